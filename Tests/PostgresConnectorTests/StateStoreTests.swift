import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// Runs `body` with a state table in a fresh schema that does not exist yet (the store creates
/// it), an admin connection, and drops the schema afterwards.
func withStateStoreSchema<T>(
    _ body: (_ table: TableName, _ admin: PostgresConnection) async throws -> T
) async throws -> T {
    try PostgresTestServer.require()
    let admin = try await PostgresConnection.connect(url: PostgresTestServer.url)
    let schema = PostgresTestServer.uniqueSchemaName("state")
    let table = TableName(schema: schema, name: "__dpone__state")
    do {
        let result = try await body(table, admin)
        try await admin.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
        await admin.close()
        return result
    } catch {
        try? await admin.execute("ROLLBACK")
        try? await admin.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
        await admin.close()
        throw error
    }
}

@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct StateStoreTests {
    @Test func roundTripCreatesTheTableOnDemand() async throws {
        try await withStateStoreSchema { table, admin in
            let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
            #expect(try await store.load(pipeline: "orders") == nil)
            let exists = "SELECT to_regclass($1) IS NOT NULL"
            #expect(try await admin.query(exists, parameters: [table.sql]) == [["f"]], "load must not create the table")

            let state = stateStoreSample()
            try await store.commit(state)
            #expect(try await admin.query(exists, parameters: [table.sql]) == [["t"]])
            let columns = try await admin.query(
                """
                SELECT column_name, data_type, is_nullable FROM information_schema.columns
                WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position
                """, parameters: [table.schema, table.name])
            #expect(
                columns == [
                    ["pipeline", "text", "NO"], ["checkpoint", "bigint", "NO"], ["document", "jsonb", "NO"],
                    ["committed_at", "timestamp with time zone", "NO"], ["fencing_token", "bigint", "NO"],
                ])
            #expect(try await store.load(pipeline: "orders") == state)
            #expect(try await store.load(pipeline: "other") == nil)
            let row = try await admin.query(
                "SELECT checkpoint, document->>'pipeline', fencing_token FROM \(table.sql)")
            #expect(row == [["5", "orders", "0"]])
            await store.close()
        }
    }

    @Test func aFreshStoreInstanceLoadsWhatAnotherCommitted() async throws {
        try await withStateStoreSchema { table, _ in
            let writer = PostgresStateStore(url: PostgresTestServer.url, table: table)
            try await writer.commit(stateStoreSample("it's ü ☃", checkpoint: 1))
            try await writer.commit(stateStoreSample("it's ü ☃", checkpoint: 2, cursor: "c-2"))
            await writer.close()
            let reader = PostgresStateStore(url: PostgresTestServer.url, table: table)
            let expected = stateStoreSample("it's ü ☃", checkpoint: 2, cursor: "c-2")
            #expect(try await reader.load(pipeline: "it's ü ☃") == expected)
            // The closed writer reconnects on its next use.
            try await writer.commit(stateStoreSample("it's ü ☃", checkpoint: 3))
            #expect(try await reader.load(pipeline: "it's ü ☃")?.checkpoint == CheckpointID(3))
        }
    }

    @Test func refusesToMoveTheCheckpointBackwardsOrSideways() async throws {
        try await withStateStoreSchema { table, _ in
            let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
            let current = stateStoreSample(checkpoint: 7)
            try await store.commit(current)

            let backwards = await #expect(throws: DponeError.self) {
                try await store.commit(stateStoreSample(checkpoint: 6))
            }
            #expect(backwards?.kind == .state)
            #expect(backwards?.message.contains("from checkpoint 7 to 6") == true)
            #expect(backwards?.context["stored_checkpoint"] == "7")
            #expect(backwards?.context["state"] == store.location(pipeline: "orders"))

            let sideways = await #expect(throws: DponeError.self) {
                try await store.commit(stateStoreSample(checkpoint: 7, cursor: "other"))
            }
            #expect(sideways?.message.contains("checkpoint 7 is already committed with a different document") == true)
            #expect(try await store.load(pipeline: "orders") == current)
            // The connection is still usable and the store still moves forward.
            try await store.commit(stateStoreSample(checkpoint: 8))
            #expect(try await store.load(pipeline: "orders")?.checkpoint == CheckpointID(8))
        }
    }

    @Test func anIdenticalReplayIsANoOp() async throws {
        try await withStateStoreSchema { table, admin in
            let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
            let state = stateStoreSample(checkpoint: 3)
            try await store.commit(state)
            let before = try await admin.query("SELECT committed_at, xmin::text FROM \(table.sql)")
            try await store.commit(state)
            let after = try await admin.query("SELECT committed_at, xmin::text FROM \(table.sql)")
            #expect(before == after, "a replay must not rewrite the row")
            #expect(try await store.load(pipeline: "orders") == state)
        }
    }

    @Test func resetDeletesTheRow() async throws {
        try await withStateStoreSchema { table, admin in
            let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
            try await store.reset(pipeline: "orders")  // no table yet: nothing to do
            try await store.commit(stateStoreSample(checkpoint: 9))
            try await store.commit(stateStoreSample("kept", checkpoint: 4))
            try await store.reset(pipeline: "orders")
            #expect(try await store.load(pipeline: "orders") == nil)
            #expect(try await store.load(pipeline: "kept")?.checkpoint == CheckpointID(4))
            try await store.reset(pipeline: "orders")
            // After a reset the pipeline starts over from any checkpoint.
            try await store.commit(stateStoreSample(checkpoint: 1))
            #expect(try await store.load(pipeline: "orders")?.checkpoint == CheckpointID(1))
            #expect(try await admin.query("SELECT count(*) FROM \(table.sql)") == [["2"]])
        }
    }

    @Test func aCorruptDocumentIsAClearStateError() async throws {
        try await withStateStoreSchema { table, admin in
            let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
            try await store.commit(stateStoreSample(checkpoint: 2))
            try await admin.execute("UPDATE \(table.sql) SET document = '{\"format_version\": \"x\"}'")
            let corrupt = await #expect(throws: DponeError.self) { try await store.load(pipeline: "orders") }
            #expect(corrupt?.kind == .state)
            let location = store.location(pipeline: "orders")
            #expect(corrupt?.message.contains("cannot read state document \(location)") == true)
            #expect(corrupt?.hint?.contains("dpone state reset") == true)

            try await store.commit(stateStoreSample(checkpoint: 3))
            try await admin.execute("UPDATE \(table.sql) SET checkpoint = 4")
            let mismatch = await #expect(throws: DponeError.self) { try await store.load(pipeline: "orders") }
            #expect(mismatch?.message.contains("checkpoint 3 differs from the row's 4") == true)
        }
    }

    @Test func serverErrorsCarryTheSQLState() async throws {
        try await withStateStoreSchema { table, admin in
            try await admin.execute(
                "CREATE SCHEMA \(PostgresSQL.quoteIdentifier(table.schema)); CREATE TABLE \(table.sql) (pipeline text)")
            let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
            let error = await #expect(throws: DponeError.self) { try await store.commit(stateStoreSample()) }
            #expect(error?.kind == .state)
            #expect(error?.context["sqlstate"] == "42703")
            #expect(error?.message.hasPrefix("cannot commit the state to postgres://") == true)
        }
    }

    @Test func concurrentFirstCommitsRaceToCreateTheTable() async throws {
        try await withStateStoreSchema { table, admin in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<4 {
                    group.addTask {
                        let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
                        try await store.commit(stateStoreSample("p\(i)", checkpoint: 1))
                        await store.close()
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await admin.query("SELECT count(*) FROM \(table.sql)") == [["4"]])
        }
    }

    @Test func aLostConnectionIsReopenedOnTheNextCall() async throws {
        try await withStateStoreSchema { table, admin in
            let app = "dpone_state_\(UInt32.random(in: 0...UInt32.max))"
            let store = PostgresStateStore(url: PostgresTestServer.url + "?application_name=\(app)", table: table)
            try await store.commit(stateStoreSample(checkpoint: 1))
            let killed = try await admin.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", parameters: [app])
            #expect(killed == [["t"]])
            let lost = await #expect(throws: DponeError.self) { try await store.load(pipeline: "orders") }
            #expect(lost?.kind == .state)
            #expect(try await store.load(pipeline: "orders")?.checkpoint == CheckpointID(1))
            try await store.commit(stateStoreSample(checkpoint: 2))
            #expect(try await store.load(pipeline: "orders")?.checkpoint == CheckpointID(2))
        }
    }

    @Test func noPasswordInLocationOrErrors() async throws {
        try PostgresTestServer.require()
        let secret = "Wr0ng-State-Pa55-xyzzy"
        let store = PostgresStateStore(url: PostgresTestServer.url(password: secret))
        let location = store.location(pipeline: "orders")
        #expect(!location.contains(secret))
        #expect(!location.contains("dpone:"))
        let (host, port) = PostgresTestServer.endpoint
        #expect(location.hasPrefix("postgres://\(host):\(port)/"))

        let loadError = await #expect(throws: DponeError.self) { try await store.load(pipeline: "orders") }
        let commitError = await #expect(throws: DponeError.self) { try await store.commit(stateStoreSample()) }
        for error in [loadError, commitError] {
            let e = try #require(error)
            #expect(e.kind == .state)
            #expect(e.context["sqlstate"] == "28P01")
            for text in [e.description, e.message, "\(e)", String(reflecting: e)] {
                #expect(!text.contains(secret), "password leaked: \(text)")
            }
        }
        // The good password still never shows.
        let good = PostgresStateStore(url: PostgresTestServer.url)
        #expect(!good.location(pipeline: "p").contains(":dpone@"))
    }
}
