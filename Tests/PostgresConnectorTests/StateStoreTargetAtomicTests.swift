import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// The sink side of `target_atomic`: the state row written inside the sink's own transaction.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct StateStoreTargetAtomicTests {
    @Test func upsertInARolledBackTransactionLeavesStateUnchanged() async throws {
        try await withStateStoreSchema { table, sink in
            let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
            let first = stateStoreSample("it's \"q\" \\ ü", checkpoint: 1)
            let second = stateStoreSample("it's \"q\" \\ ü", checkpoint: 2, cursor: "c-2")
            try await store.commit(first)

            let data = PostgresSQL.qualifiedName(schema: table.schema, name: "orders")
            try await sink.execute("CREATE TABLE \(data) (id int)")
            let upsert = try PostgresStateStore.upsertStatement(for: second, table: table)
            try await sink.execute("BEGIN")
            try await sink.execute("INSERT INTO \(data) VALUES (1)")
            #expect(try await sink.query(upsert) == [["2"]])
            #expect(try await store.load(pipeline: first.pipeline) == first, "uncommitted state is invisible")
            try await sink.execute("ROLLBACK")
            #expect(try await store.load(pipeline: first.pipeline) == first)
            #expect(try await sink.query("SELECT count(*) FROM \(data)") == [["0"]])

            try await sink.execute("BEGIN")
            try await sink.execute("INSERT INTO \(data) VALUES (1)")
            #expect(try await sink.query(upsert) == [["2"]])
            try await sink.execute("COMMIT")
            #expect(try await store.load(pipeline: first.pipeline) == second)
            #expect(try await sink.query("SELECT count(*) FROM \(data)") == [["1"]])
            // Replayed in a later transaction, the statement changes nothing and returns no row.
            #expect(try await sink.query(upsert) == [])
        }
    }

    @Test func ensureTableStatementsAndWriteStateRunInsideTheSinkTransaction() async throws {
        try await withStateStoreSchema { table, sink in
            let state = stateStoreSample(checkpoint: 4)
            try await sink.run { session in
                try session.execute("BEGIN")
                for statement in PostgresStateStore.ensureTableStatements(table: table) {
                    try session.execute(statement)
                }
                try PostgresStateStore.writeState(state, table: table, in: session)
                try PostgresStateStore.writeState(state, table: table, in: session)  // identical replay
                try session.execute("COMMIT")
            }
            let store = PostgresStateStore(url: PostgresTestServer.url, table: table)
            #expect(try await store.load(pipeline: "orders") == state)

            let refused = await #expect(throws: DponeError.self) {
                try await sink.run { session in
                    try session.execute("BEGIN")
                    defer { try? session.execute("ROLLBACK") }
                    try PostgresStateStore.writeState(stateStoreSample(checkpoint: 3), table: table, in: session)
                }
            }
            #expect(refused?.message.contains("from checkpoint 4 to 3") == true)
            #expect(try await store.load(pipeline: "orders") == state)
        }
    }
}
