import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// `incremental_column` reads over several runs, each resuming from the previous checkpoint.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct SourceCursorTests {
    static func cursor(_ column: String, _ value: String?) -> StateValue {
        .object(["cursor": .object(["column": .string(column), "value": value.map(StateValue.string) ?? .null])])
    }

    /// A row committed late with an older timestamp is skipped by plain `>` and read with a lookback.
    @Test func timestampCursorOverTwoRunsWithALateRow() async throws {
        try await withTestSchema("src_cursor_ts") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "events")
            try await conn.execute(
                """
                CREATE TABLE \(t) (id int8 PRIMARY KEY, ts timestamptz, note text);
                INSERT INTO \(t) SELECT g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', 'n' || g
                FROM generate_series(1, 5) g;
                """)
            let mode = PostgresSourceOptions.Mode.cursor(column: "ts", lookback: nil)
            let first = try await readSource(sourceOptions(schema, "events", mode: mode))
            #expect(Set(first.values("id").compactMap(\.testInt64)) == Set(1...5))
            #expect(first.positions == Self.cursor("ts", "2024-01-01T00:05:00Z"))

            try await conn.execute(
                """
                INSERT INTO \(t) VALUES
                  (6, '2024-01-01 00:06:00+00', 'n6'), (7, '2024-01-01 00:07:00+00', 'n7'),
                  (8, '2024-01-01 00:04:30+00', 'late'), (9, NULL, 'no cursor');
                """)
            let plain = try await readSource(sourceOptions(schema, "events", mode: mode), resumeFrom: first.positions)
            #expect(Set(plain.values("id").compactMap(\.testInt64)) == [6, 7])
            #expect(plain.positions == Self.cursor("ts", "2024-01-01T00:07:00Z"))

            let withLookback = PostgresSourceOptions.Mode.cursor(column: "ts", lookback: "'1 minute'")
            let wide = try await readSource(
                sourceOptions(schema, "events", mode: withLookback), resumeFrom: first.positions)
            #expect(Set(wide.values("id").compactMap(\.testInt64)) == [5, 6, 7, 8])
            #expect(wide.positions == Self.cursor("ts", "2024-01-01T00:07:00Z"))

            // Nothing new: the cursor stays, no rows.
            let idle = try await readSource(sourceOptions(schema, "events", mode: mode), resumeFrom: plain.positions)
            #expect(idle.rowCount == 0)
            #expect(idle.positions == plain.positions)
        }
    }

    /// An integer cursor outside the allowlist is read, advanced, and dropped from the batches.
    @Test func hiddenIntegerCursorWithLookbackAndNulls() async throws {
        try await withTestSchema("src_cursor_int") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute(
                """
                CREATE TABLE \(t) (id int8 PRIMARY KEY, seq int4);
                INSERT INTO \(t) SELECT g, g FROM generate_series(1, 5) g;
                """)
            let plainMode = PostgresSourceOptions.Mode.cursor(column: "seq", lookback: nil)
            let source = try PostgresSource(options: sourceOptions(schema, "t", columns: ["id"], mode: plainMode))
            #expect(try await source.outputSchema().names == ["id"])
            let first = RecordingOutput()
            try await source.run(into: first, resumeFrom: nil)
            #expect(first.batches.allSatisfy { $0.schema.names == ["id"] && $0.columns.count == 1 })
            #expect(first.rowCount == 5)
            #expect(first.positions == Self.cursor("seq", "5"))

            try await conn.execute("INSERT INTO \(t) VALUES (6, 6), (7, 4), (8, NULL)")
            let plain = RecordingOutput()
            try await source.run(into: plain, resumeFrom: first.positions)  // reconnects after the first run
            #expect(plain.rows == [[.int(6)]])
            #expect(plain.positions == Self.cursor("seq", "6"))

            let lookback = PostgresSourceOptions.Mode.cursor(column: "seq", lookback: "2")
            let wide = try await readSource(sourceOptions(schema, "t", columns: ["id"], mode: lookback), resumeFrom: first.positions)
            #expect(Set(wide.values("id").compactMap(\.testInt64)) == [4, 5, 6, 7])
            #expect(wide.positions == Self.cursor("seq", "6"))
        }
    }

    /// Text cursors compare in byte order (`COLLATE "C"`), the order the maximum is computed in.
    @Test func textCursorUsesByteOrder() async throws {
        try await withTestSchema("src_cursor_text") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute("CREATE TABLE \(t) (k text PRIMARY KEY); INSERT INTO \(t) VALUES ('a'), ('B'), ('b')")
            let mode = PostgresSourceOptions.Mode.cursor(column: "k", lookback: nil)
            let first = try await readSource(sourceOptions(schema, "t", mode: mode))
            #expect(first.positions == Self.cursor("k", "b"))
            try await conn.execute("INSERT INTO \(t) VALUES ('c'), ('A'), ('ba')")
            let next = try await readSource(sourceOptions(schema, "t", mode: mode), resumeFrom: first.positions)
            #expect(Set(next.values("k").compactMap(\.testString)) == ["c", "ba"])
            #expect(next.positions == Self.cursor("k", "c"))
        }
    }

    @Test func invalidCursorsAreRejected() async throws {
        try await withTestSchema("src_cursor_bad") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute("CREATE TABLE \(t) (id int PRIMARY KEY, flag boolean, ts timestamp)")
            let missing = try PostgresSource(options: sourceOptions(schema, "t", mode: .cursor(column: "nope", lookback: nil)))
            let unknown = try await #require(throws: DponeError.self) { try await missing.outputSchema() }
            #expect(unknown.kind == .schema)
            #expect(unknown.hint == "available columns: id, flag, ts")
            let boolean = try PostgresSource(options: sourceOptions(schema, "t", mode: .cursor(column: "flag", lookback: nil)))
            await #expect(throws: DponeError.self) { try await boolean.outputSchema() }
            let ts = try PostgresSource(options: sourceOptions(schema, "t", mode: .cursor(column: "ts", lookback: nil)))
            let stale = try await #require(throws: DponeError.self) {
                try await ts.run(into: RecordingOutput(), resumeFrom: Self.cursor("id", "3"))
            }
            #expect(stale.kind == .state)
            let badLookback = try await #require(throws: DponeError.self) {
                try await readSource(
                    sourceOptions(schema, "t", mode: .cursor(column: "ts", lookback: "soon")),
                    resumeFrom: Self.cursor("ts", "2024-01-01T00:00:00"))
            }
            #expect(badLookback.kind == .source)
        }
    }
}
