@testable import PostgresConnector
import Testing

@Suite struct PostgresConnectionStringTests {
    @Test func redactsURLPasswords() {
        let s = PostgresConnectionString("postgresql://dpone:s3cr3t@127.0.0.1:55432/dpone?sslmode=disable")
        #expect(s.redacted == "postgresql://dpone:***@127.0.0.1:55432/dpone?sslmode=disable")
        #expect(s.server == "127.0.0.1:55432")
        #expect(s.scrub("failed for s3cr3t here") == "failed for *** here")
    }

    @Test func redactsPasswordWithAtSignAndQueryParameter() {
        let s = PostgresConnectionString("postgres://u:p%40ss@db.example:5433/x?password=other&sslmode=require")
        #expect(s.redacted == "postgres://u:***@db.example:5433/x?password=***&sslmode=require")
        #expect(!s.redacted.contains("other"))
    }

    @Test func keepsURLsWithoutPassword() {
        let s = PostgresConnectionString("postgresql://u@h/db")
        #expect(s.redacted == "postgresql://u@h/db")
        #expect(s.server == "h:5432")
        #expect(s.scrub("nothing to hide") == "nothing to hide")
    }

    @Test func redactsKeywordPasswords() {
        let s = PostgresConnectionString("host=h port=6000 password='a b\\'c' user=u")
        #expect(s.redacted == "host=h port=6000 password=*** user=u")
        #expect(s.server == "h:6000")
        let t = PostgresConnectionString("password = plain dbname=x")
        #expect(t.redacted == "password=*** dbname=x")
    }
}
