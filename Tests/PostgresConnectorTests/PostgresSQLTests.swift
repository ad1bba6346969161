import PostgresConnector
import Testing

@Suite struct PostgresSQLTests {
    @Test func quotesIdentifiers() {
        #expect(PostgresSQL.quoteIdentifier("users") == "\"users\"")
        #expect(PostgresSQL.quoteIdentifier("Mixed Case") == "\"Mixed Case\"")
        #expect(PostgresSQL.quoteIdentifier("a\"b") == "\"a\"\"b\"")
        #expect(PostgresSQL.quoteIdentifier("") == "\"\"")
        #expect(PostgresSQL.quoteIdentifier("ünï") == "\"ünï\"")
        #expect(PostgresSQL.qualifiedName(schema: "s", name: "t\"x") == "\"s\".\"t\"\"x\"")
    }

    @Test func quotesLiterals() {
        #expect(PostgresSQL.quoteLiteral("abc") == "'abc'")
        #expect(PostgresSQL.quoteLiteral("it's") == "'it''s'")
        #expect(PostgresSQL.quoteLiteral("") == "''")
        #expect(PostgresSQL.quoteLiteral("a\\b'") == "E'a\\\\b'''")
    }
}
