import Dispatch
import DponeTestSupport
import Flow
import PostgresConnector
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `SourceOutput` that keeps every batch and checkpoint. `sendBlocking` / `checkpointBlocking`
/// are safe from the connection thread (a mutex, no suspension).
final class RecordingOutput: SourceOutput {
    private struct Log {
        var batches: [Batch] = []
        var checkpoints: [StateValue] = []
    }

    private let log = Mutex(Log())

    func send(_ batch: Batch) async throws { try sendBlocking(batch) }
    func sendBlocking(_ batch: Batch) throws { log.withLock { $0.batches.append(batch) } }

    func checkpoint(positions: StateValue) async throws -> CheckpointID { try checkpointBlocking(positions: positions) }
    func checkpointBlocking(positions: StateValue) throws -> CheckpointID {
        log.withLock { log in
            log.checkpoints.append(positions)
            return CheckpointID(UInt64(log.checkpoints.count))
        }
    }

    var batches: [Batch] { log.withLock { $0.batches } }
    var checkpoints: [StateValue] { log.withLock { $0.checkpoints } }
    /// The positions of the (single) final checkpoint.
    var positions: StateValue? { checkpoints.last }
    /// Every row read, as scalars (test-side only).
    var rows: [[Value]] { batches.flatMap { batch in (0..<batch.rowCount).map { batch.row($0) } } }
    var rowCount: Int { batches.reduce(0) { $0 + $1.rowCount } }

    /// The values of column `name` across all batches.
    func values(_ name: String) -> [Value] {
        batches.flatMap { batch in
            let column = batch.column(named: name)!
            return (0..<batch.rowCount).map { column.value(at: $0) }
        }
    }
}

/// Runs a fresh source once and returns what it emitted.
func readSource(_ options: PostgresSourceOptions, resumeFrom: StateValue? = nil) async throws -> RecordingOutput {
    let source = try PostgresSource(options: options)
    let output = RecordingOutput()
    _ = try await source.outputSchema()
    try await source.run(into: output, resumeFrom: resumeFrom)
    return output
}

func sourceOptions(
    _ schema: String, _ table: String, columns: [String]? = nil, predicate: String? = nil,
    mode: PostgresSourceOptions.Mode = .full, batchRows: Int = PostgresSourceOptions.defaultBatchRows,
    batchBytes: Int = PostgresSourceOptions.defaultBatchBytes
) -> PostgresSourceOptions {
    PostgresSourceOptions(
        url: PostgresTestServer.url, schema: schema, table: table, columns: columns, customPredicate: predicate,
        mode: mode, batchRows: batchRows, batchBytes: batchBytes)
}

extension Value {
    var testInt64: Int64? { if case .int(let v) = self { v } else { nil } }
    var testString: String? { if case .string(let v) = self { v } else { nil } }
}

@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct SourceReadTests {
    static let createTypes = """
        CREATE TABLE %t (
            id int8 PRIMARY KEY, small int2, i int4, r float4, d float8, amount numeric(12,2), txt text,
            vc varchar(10), flag boolean, day date, clock time, ts timestamp, tstz timestamptz, u uuid,
            js json, jsb jsonb, blob bytea, tags text[]
        );
        INSERT INTO %t
        SELECT g,
               CASE WHEN g % 7 <> 0 THEN g::int2 END,
               CASE WHEN g % 7 <> 0 THEN g * 10 END,
               CASE WHEN g % 7 <> 0 THEN 0.5::float4 END,
               CASE WHEN g % 7 <> 0 THEN g + 0.5 END,
               CASE WHEN g % 7 <> 0 THEN g + 0.01 END,
               CASE WHEN g % 7 <> 0 THEN 'row ' || g END,
               CASE WHEN g % 7 <> 0 THEN 'v' || g END,
               CASE WHEN g % 7 <> 0 THEN g % 2 = 1 END,
               CASE WHEN g % 7 <> 0 THEN date '2024-01-01' + g::int END,
               CASE WHEN g % 7 <> 0 THEN time '00:00:00' + g * interval '1 second' END,
               CASE WHEN g % 7 <> 0 THEN timestamp '2024-01-01 00:00:00' + g * interval '1 second' END,
               CASE WHEN g % 7 <> 0 THEN timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' END,
               CASE WHEN g % 7 <> 0 THEN md5(g::text)::uuid END,
               CASE WHEN g % 7 <> 0 THEN json_build_object('id', g) END,
               CASE WHEN g % 7 <> 0 THEN jsonb_build_object('id', g) END,
               CASE WHEN g % 7 <> 0 THEN '\\x00ff'::bytea END,
               CASE WHEN g % 7 <> 0 THEN ARRAY['a', 'b'] END
        FROM generate_series(1, 1000) g;
        """

    @Test func fullReadOfManyTypesAndNullsInBatches() async throws {
        try await withTestSchema("src_full") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "all types")
            try await conn.execute(Self.createTypes.replacing("%t", with: t))
            let out = try await readSource(sourceOptions(schema, "all types", batchRows: 300))
            #expect(out.batches.map(\.rowCount) == [300, 300, 300, 100])
            #expect(out.positions == .object(["table": .string("\(schema).all types"), "rows": .int(1000)]))
            #expect(out.checkpoints.count == 1)
            let ids = out.values("id").compactMap(\.testInt64)
            #expect(Set(ids) == Set(1...1000))
            #expect(out.values("txt").filter(\.isNull).count == 142)
            #expect(out.batches[0].schema.names.first == "id")
            #expect(out.batches[0].schema.count == 18)

            let rows = out.rows
            let one = try #require(rows.first { $0[0] == .int(1) })
            let day = Int32(CivilCalendar.days(year: 2024, month: 1, day: 2))
            let midnight = Int64(CivilCalendar.days(year: 2024, month: 1, day: 1)) * CivilCalendar.microsPerDay
            let expected: [Value] = [
                .int(1), .int(1), .int(10), .float(0.5), .float(1.5), .decimal(101, scale: 2), .string("row 1"),
                .string("v1"), .bool(true), .date(day), .time(1_000_000), .timestamp(midnight + 1_000_000, withTimeZone: false),
                .timestamp(midnight + 1_000_000, withTimeZone: true),
                .uuid(bytes(hex: "c4ca4238a0b923820dcc509a6f75849b")), .json("{\"id\" : 1}"), .json("{\"id\": 1}"),
                .bytes([0x00, 0xFF]), .json("[\"a\",\"b\"]"),
            ]
            #expect(one == expected)
            let seven = try #require(rows.first { $0[0] == .int(7) })
            #expect(seven.dropFirst().allSatisfy { $0.isNull })
        }
    }

    @Test func batchesAreCutAtTheByteLimit() async throws {
        try await withTestSchema("src_bytes") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute("CREATE TABLE \(t) AS SELECT g AS id, repeat('x', 100) AS pad FROM generate_series(1, 500) g")
            let out = try await readSource(sourceOptions(schema, "t", batchBytes: 4096))
            #expect(out.rowCount == 500)
            #expect(out.batches.count > 10)
            for batch in out.batches.dropLast() { #expect(batch.byteCount >= 4096 && batch.byteCount < 4096 + 200) }
        }
    }

    @Test func allowlistKeepsItsOrderAndPredicateFilters() async throws {
        try await withTestSchema("src_allow") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "all types")
            try await conn.execute(Self.createTypes.replacing("%t", with: t))
            let options = sourceOptions(schema, "all types", columns: ["txt", "id"], predicate: "id <= 10 AND flag")
            let source = try PostgresSource(options: options)
            #expect(try await source.outputSchema().names == ["txt", "id"])
            let out = RecordingOutput()
            try await source.run(into: out, resumeFrom: nil)
            #expect(out.batches.allSatisfy { $0.schema.names == ["txt", "id"] })
            #expect(Set(out.values("id").compactMap(\.testInt64)) == [1, 3, 5, 9])
            #expect(Set(out.values("txt").compactMap(\.testString)) == ["row 1", "row 3", "row 5", "row 9"])
            // A predicate with OR stays parenthesised: it cannot widen another condition.
            let wide = try await readSource(sourceOptions(schema, "all types", predicate: "id = 1 OR id = 2"))
            #expect(wide.rowCount == 2)
        }
    }

    @Test func unknownColumnIsASchemaErrorListingTheColumns() async throws {
        try await withTestSchema("src_unknown") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute("CREATE TABLE \(t) (id int PRIMARY KEY, name text, \"Mixed Case\" int)")
            let source = try PostgresSource(options: sourceOptions(schema, "t", columns: ["id", "nope"]))
            let error = try await #require(throws: DponeError.self) { try await source.outputSchema() }
            #expect(error.kind == .schema)
            #expect(error.message.contains("\"nope\""))
            #expect(error.hint == "available columns: id, name, Mixed Case")
            let missing = try PostgresSource(options: sourceOptions(schema, "absent"))
            let tableError = try await #require(throws: DponeError.self) { try await missing.outputSchema() }
            #expect(tableError.kind == .schema)
            // The mixed-case column is quoted in the SQL and read back.
            try await conn.execute("INSERT INTO \(t) VALUES (1, 'a', 5)")
            let out = try await readSource(sourceOptions(schema, "t", columns: ["Mixed Case"]))
            #expect(out.rows == [[.int(5)]])
        }
    }

    @Test func wrongPasswordIsASourceError() async throws {
        try PostgresTestServer.require()
        var options = sourceOptions("public", "t")
        options.url = PostgresTestServer.url(password: "wrong")
        let source = try PostgresSource(options: options)
        let error = try await #require(throws: DponeError.self) { try await source.outputSchema() }
        #expect(error.kind == .source)
        #expect(!error.description.contains("wrong"))
    }

    @Test func cancellationStopsTheReadAndRollsBack() async throws {
        try await withTestSchema("src_cancel") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute("CREATE TABLE \(t) AS SELECT g AS id FROM generate_series(1, 200000) g")
            let source = try PostgresSource(options: sourceOptions(schema, "t", batchRows: 1000))
            let out = SlowOutput()
            let task = Task { try await source.run(into: out, resumeFrom: nil) }
            while out.sent.withLock({ $0 }) < 3 { try await Task.sleep(for: .milliseconds(5)) }
            task.cancel()
            out.gate.signal()
            let error = try await #require(throws: DponeError.self) { try await task.value }
            #expect(error.kind == .cancelled)
            #expect(out.sent.withLock { $0 } < 200)
            #expect(out.checkpoints.withLock { $0 } == 0)
        }
    }
}

/// An output that holds the read after its third batch until the test opens the gate, so the read
/// is deterministically still running when the test cancels it, however loaded the machine is.
final class SlowOutput: SourceOutput {
    let sent = Mutex(0)
    let checkpoints = Mutex(0)
    let gate = DispatchSemaphore(value: 0)

    func send(_ batch: Batch) async throws { try sendBlocking(batch) }
    func sendBlocking(_ batch: Batch) throws {
        let count = sent.withLock { s in
            s += 1
            return s
        }
        if count == 3 { gate.wait() }
    }
    func checkpoint(positions: StateValue) async throws -> CheckpointID { try checkpointBlocking(positions: positions) }
    func checkpointBlocking(positions: StateValue) throws -> CheckpointID {
        checkpoints.withLock { $0 += 1 }
        return CheckpointID(1)
    }
}
