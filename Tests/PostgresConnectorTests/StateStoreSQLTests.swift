import Flow
import PostgresConnector
import Testing

/// A state document for tests.
func stateStoreSample(_ pipeline: String = "orders", checkpoint: UInt64 = 5, cursor: String = "c-1") -> PipelineState {
    PipelineState(
        pipeline: pipeline, checkpoint: CheckpointID(checkpoint),
        source: .object(["cursor": .string(cursor), "lsn": .int(42), "parts": .array([.bool(true), .null])]),
        loadID: "load-1", runID: "run-1", committedAt: "2024-03-31T01:30:00.000Z")
}

@Suite struct StateStoreSQLTests {
    @Test func ensureTableStatementsQuoteEveryIdentifier() {
        let statements = PostgresStateStore.ensureTableStatements(table: TableName(schema: "My\"Schema", name: "st"))
        #expect(statements.count == 2)
        #expect(statements[0] == "CREATE SCHEMA IF NOT EXISTS \"My\"\"Schema\"")
        #expect(
            statements[1]
                == "CREATE TABLE IF NOT EXISTS \"My\"\"Schema\".\"st\" (\"pipeline\" text PRIMARY KEY, "
                + "\"checkpoint\" bigint NOT NULL, \"document\" jsonb NOT NULL, "
                + "\"committed_at\" timestamptz NOT NULL DEFAULT now(), \"fencing_token\" bigint NOT NULL DEFAULT 0)")
        let defaults = PostgresStateStore.ensureTableStatements()
        #expect(defaults[1].hasPrefix("CREATE TABLE IF NOT EXISTS \"dpone\".\"__dpone__state\" ("))
    }

    @Test func upsertStatementQuotesLiteralsAndGuardsTheCheckpoint() throws {
        let state = stateStoreSample("it's \"quoted\"", checkpoint: 7)
        let sql = try PostgresStateStore.upsertStatement(for: state, table: TableName(schema: "s", name: "t\"x"))
        #expect(
            sql.hasPrefix(
                "INSERT INTO \"s\".\"t\"\"x\" (\"pipeline\", \"checkpoint\", \"document\", \"committed_at\") "
                    + "VALUES ('it''s \"quoted\"', 7, E'{"))
        // The JSON escapes `"` as `\"`: the document literal doubles that backslash.
        #expect(sql.contains(#""pipeline":"it''s \\"quoted\\"""#))
        #expect(sql.contains("}'::jsonb, now()) ON CONFLICT (\"pipeline\") DO UPDATE SET "))
        #expect(sql.contains("WHERE \"s\".\"t\"\"x\".\"checkpoint\" < EXCLUDED.\"checkpoint\""))
        #expect(sql.hasSuffix("RETURNING \"checkpoint\""))
        #expect(!sql.contains("\n"))
    }

    @Test func upsertStatementEscapesBackslashesWithAnELiteral() throws {
        let sql = try PostgresStateStore.upsertStatement(for: stateStoreSample("a\\b"))
        #expect(sql.contains("VALUES (E'a\\\\b', 5, E'{"))
        #expect(sql.contains("INSERT INTO \"dpone\".\"__dpone__state\" "))
    }

    @Test func upsertStatementRefusesWhatSQLCannotHold() {
        let tooBig = stateStoreSample(checkpoint: UInt64(Int64.max) + 1)
        let big = #expect(throws: DponeError.self) { try PostgresStateStore.upsertStatement(for: tooBig) }
        #expect(big?.kind == .state)
        #expect(big?.message.contains("bigint") == true)
        let nul = #expect(throws: DponeError.self) {
            try PostgresStateStore.upsertStatement(for: stateStoreSample("a\u{0}b"))
        }
        #expect(nul?.kind == .state)
        var nan = stateStoreSample()
        nan.source = .double(.nan)
        #expect(throws: DponeError.self) { try PostgresStateStore.upsertStatement(for: nan) }
    }

    @Test func locationNamesServerTableAndPipelineWithoutCredentials() {
        let store = PostgresStateStore(url: "postgresql://alice:s3cr3t-pw@db.example:6543/warehouse?sslmode=require")
        #expect(
            store.location(pipeline: "orders") == "postgres://db.example:6543/warehouse dpone.__dpone__state (orders)")
        let keywords = PostgresStateStore(
            url: "host=10.0.0.1 port=5433 dbname=app user=bob password=hunter2",
            table: TableName(schema: "ops", name: "state"))
        #expect(keywords.location(pipeline: "p") == "postgres://10.0.0.1:5433/app ops.state (p)")
        #expect(PostgresStateStore.defaultTable == TableName(schema: "dpone", name: "__dpone__state"))
    }
}
