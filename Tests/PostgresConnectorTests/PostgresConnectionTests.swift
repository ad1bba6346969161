import DponeTestSupport
import Flow
import PostgresConnector
import Testing

@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct PostgresConnectionTests {
    @Test func connectsQueriesAndExecutes() async throws {
        try await withTestSchema("conn") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "Items")
            try await conn.execute(
                "CREATE TABLE \(t) (id int PRIMARY KEY, name text); INSERT INTO \(t) VALUES (1, 'a'), (2, NULL)")
            let rows = try await conn.query("SELECT id, name FROM \(t) WHERE id >= $1 ORDER BY id", parameters: ["1"])
            #expect(rows == [["1", "a"], ["2", nil]])
            let nullParam = try await conn.query("SELECT $1::text IS NULL, $2::text", parameters: [nil, "ü ☃"])
            #expect(nullParam == [["t", "ü ☃"]])
            let settings = try await conn.query(
                "SELECT current_setting('application_name'), current_setting('client_encoding')")
            #expect(settings == [["dpone", "UTF8"]])
            try await conn.execute("")
        }
    }

    @Test func serverErrorsCarryDiagnostics() async throws {
        try await withTestSchema("err") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            let missing = await #expect(throws: PostgresError.self) {
                try await conn.query("SELECT * FROM \(schema).no_such_table")
            }
            #expect(missing?.sqlState == "42P01")
            #expect(missing?.severity == "ERROR")
            #expect(missing?.context["url"]?.contains(":***@") == true)
            #expect(missing?.context["sql"]?.contains("no_such_table") == true)

            try await conn.execute("CREATE TABLE \(t) (id int PRIMARY KEY)")
            try await conn.execute("INSERT INTO \(t) VALUES (1)")
            let duplicate = await #expect(throws: PostgresError.self) {
                try await conn.execute("INSERT INTO \(t) VALUES (1)")
            }
            #expect(duplicate?.sqlState == "23505")
            #expect(duplicate?.detail == "Key (id)=(1) already exists.")
            let dpone = duplicate?.dponeError(.sink)
            #expect(dpone?.kind == .sink)
            #expect(dpone?.context["sqlstate"] == "23505")

            let hinted = await #expect(throws: PostgresError.self) { try await conn.query("SELECT no_such_function(1)") }
            #expect(hinted?.sqlState == "42883")
            #expect(hinted?.hint?.isEmpty == false)
            // The connection stays usable after errors.
            #expect(try await conn.query("SELECT 1") == [["1"]])
        }
    }

    @Test func wrongPasswordIsRejectedWithoutLeakingIt() async throws {
        try PostgresTestServer.require()
        let secret = "Wr0ng-Pa55word-xyzzy"
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(url: PostgresTestServer.url(password: secret))
        }
        let e = try #require(error)
        #expect(e.sqlState == "28P01")
        #expect(e.severity == "FATAL")
        #expect(e.message.contains("password authentication failed"))
        for text in [e.description, e.dponeError().description, "\(e)", String(reflecting: e)] {
            #expect(!text.contains(secret), "password leaked: \(text)")
        }
        #expect(e.context["url"]?.contains("***") == true)
    }

    @Test func statementTimeoutApplies() async throws {
        try PostgresTestServer.require()
        let conn = try await PostgresConnection.connect(url: PostgresTestServer.url, statementTimeout: .milliseconds(200))
        let timeout = try await conn.query("SHOW statement_timeout")
        #expect(timeout == [["200ms"]])
        let error = await #expect(throws: PostgresError.self) { try await conn.execute("SELECT pg_sleep(5)") }
        #expect(error?.sqlState == "57014")
        await conn.close()
    }

    @Test func cancellingTheTaskCancelsTheStatement() async throws {
        try PostgresTestServer.require()
        let conn = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let clock = ContinuousClock()
        let start = clock.now
        let task = Task { try await conn.execute("SELECT pg_sleep(30)") }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        let error = await #expect(throws: PostgresError.self) { try await task.value }
        #expect(error?.sqlState == "57014")
        #expect(clock.now - start < .seconds(25), "the statement sleeps 30 s: only the cancel ends it sooner")
        #expect(try await conn.query("SELECT 2") == [["2"]])
        await conn.close()
    }

    @Test func closedConnectionFailsCleanly() async throws {
        try PostgresTestServer.require()
        let conn = try await PostgresConnection.connect(url: PostgresTestServer.url)
        await conn.close()
        await conn.close()
        await #expect(throws: PostgresError.self) { try await conn.query("SELECT 1") }
    }

    @Test func copyStatementsNeedTheCopyAPI() async throws {
        try PostgresTestServer.require()
        let conn = try await PostgresConnection.connect(url: PostgresTestServer.url)
        await #expect(throws: PostgresError.self) { try await conn.execute("COPY (SELECT 1) TO STDOUT") }
        #expect(try await conn.query("SELECT 3") == [["3"]])
        await conn.close()
    }
}

/// Needs no server: nothing listens on port 1.
@Suite struct PostgresUnreachableServerTests {
    @Test func serverDownNamesHostAndPort() async throws {
        let secret = "s3cret-never-shown"
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(url: "postgresql://dpone:\(secret)@127.0.0.1:1/dpone")
        }
        let e = try #require(error)
        #expect(e.sqlState == nil)
        #expect(e.context["server"] == "127.0.0.1:1")
        #expect(e.message.contains("127.0.0.1") && e.message.contains("port 1"))
        #expect(e.description.contains("127.0.0.1:1"))
        #expect(!e.description.contains(secret))
        #expect(!e.dponeError().description.contains(secret))
    }

    @Test func malformedURLIsAnError() async {
        await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(url: "postgresql://u:pw@127.0.0.1:1/db?no_such_option=1")
        }
    }
}
