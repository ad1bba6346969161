import FilesConnector
import Formats
import KafkaConnector
import Manifest
import Pipeline
import PostgresConnector
import Testing

@Suite struct ConnectionResolutionTests {
    @Test func variablePrefixNormalisesTheID() {
        #expect(ConnectionResolver.variablePrefix(for: "pg-app.main") == "DPONE_CONN_PG_APP_MAIN")
    }

    @Test func urlWinsOverParts() throws {
        let resolver = ConnectionResolver(environment: [
            "DPONE_CONN_X_URL": "mssql://sa:Pa55@db:1433/sales", "DPONE_CONN_X_HOST": "ignored",
        ])
        let c = try resolver.resolve("x", scheme: "mssql").get()
        #expect(c.url == "mssql://sa:Pa55@db:1433/sales")
        #expect(c.host == "db")
    }

    @Test func partsAssembleAnEncodedURL() throws {
        let resolver = ConnectionResolver(environment: [
            "DPONE_CONN_X_HOST": "h", "DPONE_CONN_X_USERNAME": "u ser", "DPONE_CONN_X_PASSWORD": "p/w#1",
        ])
        let c = try resolver.resolve("x", scheme: "postgresql").get()
        #expect(c.url == "postgresql://u%20ser:p%2Fw%231@h")
        #expect(c.redactedURL == "postgresql://u%20ser:***@h")
        #expect(c.password == "p/w#1")
        #expect(c.port == nil)
        #expect(c.database == nil)
    }

    @Test func missingVariablesAreNamed() {
        let result = ConnectionResolver(environment: [:]).resolve("pg_app", scheme: "postgresql")
        guard case .failure(let failure) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.message.contains("DPONE_CONN_PG_APP_URL"))
        #expect(failure.message.contains("DPONE_CONN_PG_APP_HOST"))
    }

    @Test func aBadPortIsReported() {
        let result = ConnectionResolver(environment: ["DPONE_CONN_X_HOST": "h", "DPONE_CONN_X_PORT": "http"])
            .resolve("x", scheme: "postgresql")
        #expect(throws: ConnectionResolver.Failure.self) { try result.get() }
    }

    @Test func humanFacingFormsNeverShowThePassword() {
        let c = ResolvedConnection(url: "postgresql://etl:TopSecret@h:5432/db")
        #expect(c.password == "TopSecret")
        #expect(!c.description.contains("TopSecret"))
        #expect(!c.debugDescription.contains("TopSecret"))
        #expect(!String(describing: c).contains("TopSecret"))
        #expect(!String(reflecting: c).contains("TopSecret"))
        #expect(!"\(c)".contains("TopSecret"))
        var dumped = ""
        dump(c, to: &dumped)
        #expect(!dumped.contains("TopSecret"))
        #expect(c.description == "postgresql://etl:***@h:5432/db")
    }

    @Test func parameterPasswordsAreRedactedToo() {
        let c = ResolvedConnection(url: "https://api.example.com/v1?user=a&password=hunter2&x=1")
        #expect(c.redactedURL == "https://api.example.com/v1?user=a&password=***&x=1")
        #expect(c.password == "hunter2")
    }
}
