import DponeTestSupport
import Flow
import Testing

@testable import ClickHouseConnector

@Suite("ClickHouse source: cursor", .tags(.integrationClickHouse), IntegrationGate.integration.trait)
struct SourceCursorTests {
    static func cursorValue(_ out: SourceRecordingOutput) -> StateValue? { out.positions?["cursor"]?["value"] }

    @Test(arguments: ClickHouseTestServer.all)
    func integerCursorOverTwoRuns(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute("CREATE TABLE \(db).ev (id UInt64, v String) ENGINE = MergeTree() ORDER BY id")
            try await admin.execute("INSERT INTO \(db).ev SELECT number + 1, 'a' FROM system.numbers LIMIT 10")
            let options = ClickHouseSourceOptions(
                url: server.url, database: db, table: "ev", columns: ["v"], mode: .cursor(column: "id"))
            let first = try await readClickHouseSource(options)
            #expect(first.rowCount == 10)
            #expect(first.batches.first?.schema.names == ["v"])  // the hidden cursor column is dropped
            #expect(first.positions == .object(["cursor": .object(["column": .string("id"), "value": .string("10")])]))

            try await admin.execute("INSERT INTO \(db).ev SELECT number + 11, 'b' FROM system.numbers LIMIT 5")
            let second = try await readClickHouseSource(options, resumeFrom: first.positions)
            #expect(second.values("v") == Array(repeating: .string("b"), count: 5))
            #expect(Self.cursorValue(second) == .string("15"))

            let third = try await readClickHouseSource(options, resumeFrom: second.positions)
            #expect(third.rowCount == 0)
            #expect(Self.cursorValue(third) == .string("15"))  // the stored value when nothing is new
            #expect(third.checkpoints.count == 1)

            var lookback = options
            lookback.mode = .cursor(column: "id", lookback: "3")
            let again = try await readClickHouseSource(lookback, resumeFrom: second.positions)
            #expect(again.rowCount == 3)
            #expect(Self.cursorValue(again) == .string("15"))
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func dateTimeCursorWithLookback(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute(
                "CREATE TABLE \(db).ev (id Int64, ts DateTime('UTC')) ENGINE = MergeTree() ORDER BY id")
            try await admin.execute(
                "INSERT INTO \(db).ev VALUES (1, '2024-01-01 00:00:00'), (2, '2024-01-01 00:10:00'), (3, '2024-01-01 00:20:00')")
            let options = ClickHouseSourceOptions(url: server.url, database: db, table: "ev", mode: .cursor(column: "ts"))
            let first = try await readClickHouseSource(options)
            #expect(first.rowCount == 3)
            #expect(Self.cursorValue(first) == .string("2024-01-01T00:20:00Z"))
            try await admin.execute("INSERT INTO \(db).ev VALUES (4, '2024-01-01 00:20:00'), (5, '2024-01-01 00:30:01')")
            let second = try await readClickHouseSource(options, resumeFrom: first.positions)
            #expect(second.values("id") == [.int(5)])  // strict >: the tie at 00:20:00 is skipped
            #expect(Self.cursorValue(second) == .string("2024-01-01T00:30:01Z"))

            var widened = options
            widened.mode = .cursor(column: "ts", lookback: "'15 minutes'")
            let replay = try await readClickHouseSource(widened, resumeFrom: first.positions)
            #expect(Set(replay.values("id").compactMap(\.sourceTestInt)) == [2, 3, 4, 5])
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func stringDateAndDecimalCursors(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute(
                "CREATE TABLE \(db).ev (id Int64, s Nullable(String), d Date, amount Decimal(12, 2)) ENGINE = MergeTree() ORDER BY id")
            try await admin.execute(
                "INSERT INTO \(db).ev VALUES (1, 'a''b', '2024-01-01', 1.50), (2, 'z\\\\', '2024-01-05', 2.25), (3, NULL, '2024-01-03', 0.01)")
            for (column, expected) in [("s", "z\\"), ("d", "2024-01-05"), ("amount", "2.25")] {
                let options = ClickHouseSourceOptions(
                    url: server.url, database: db, table: "ev", mode: .cursor(column: column))
                let first = try await readClickHouseSource(options)
                #expect(first.rowCount == 3)
                #expect(Self.cursorValue(first) == .string(expected), "\(column)")
                let second = try await readClickHouseSource(options, resumeFrom: first.positions)
                #expect(second.rowCount == 0, "\(column)")
                #expect(Self.cursorValue(second) == .string(expected), "\(column)")
            }
            let start = StateValue.object(["cursor": .object(["column": .string("s"), "value": .string("a'b")])])
            let fromQuote = try await readClickHouseSource(
                ClickHouseSourceOptions(url: server.url, database: db, table: "ev", mode: .cursor(column: "s")),
                resumeFrom: start)
            #expect(fromQuote.values("id") == [.int(2)])
            let byDay = try await readClickHouseSource(
                ClickHouseSourceOptions(
                    url: server.url, database: db, table: "ev", mode: .cursor(column: "d", lookback: "3 days")),
                resumeFrom: .object(["cursor": .object(["column": .string("d"), "value": .string("2024-01-05")])]))
            #expect(Set(byDay.values("id").compactMap(\.sourceTestInt)) == [2, 3])
            let byAmount = try await readClickHouseSource(
                ClickHouseSourceOptions(
                    url: server.url, database: db, table: "ev", mode: .cursor(column: "amount", lookback: "0.75")),
                resumeFrom: .object(["cursor": .object(["column": .string("amount"), "value": .string("2.25")])]))
            #expect(byAmount.values("id") == [.int(2)])
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func dateTime64CursorOnModern(_ server: ClickHouseTestServer) async throws {
        guard server.name == "modern" else { return }
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute(
                "CREATE TABLE \(db).ev (id Int64, ts DateTime64(6, 'UTC')) ENGINE = MergeTree() ORDER BY id")
            try await admin.execute(
                "INSERT INTO \(db).ev VALUES (1, '2024-01-01 00:00:00.000001'), (2, '2024-01-01 00:00:00.000002')")
            let options = ClickHouseSourceOptions(url: server.url, database: db, table: "ev", mode: .cursor(column: "ts"))
            let first = try await readClickHouseSource(
                options, resumeFrom: .object(["cursor": .object(["column": .string("ts"), "value": .string("2024-01-01T00:00:00.000001Z")])]))
            #expect(first.values("id") == [.int(2)])
            #expect(Self.cursorValue(first) == .string("2024-01-01T00:00:00.000002Z"))
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func badCursorsAreRejected(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute("CREATE TABLE \(db).ev (id Int64, f Float64, s String) ENGINE = MergeTree() ORDER BY id")
            let float = try ClickHouseSource(
                options: ClickHouseSourceOptions(url: server.url, database: db, table: "ev", mode: .cursor(column: "f")))
            let floatError = try await #require(throws: DponeError.self) { _ = try await float.outputSchema() }
            #expect(floatError.kind == .schema)
            let lookback = try ClickHouseSource(
                options: ClickHouseSourceOptions(
                    url: server.url, database: db, table: "ev", mode: .cursor(column: "s", lookback: "5")))
            let lookbackError = try await #require(throws: DponeError.self) { _ = try await lookback.outputSchema() }
            #expect(lookbackError.kind == .manifest)
            let other = try ClickHouseSource(
                options: ClickHouseSourceOptions(url: server.url, database: db, table: "ev", mode: .cursor(column: "id")))
            let stateError = try await #require(throws: DponeError.self) {
                try await other.run(
                    into: SourceRecordingOutput(),
                    resumeFrom: .object(["cursor": .object(["column": .string("s"), "value": .string("x")])]))
            }
            #expect(stateError.kind == .state)
        }
    }
}

@Suite("ClickHouse source: units")
struct SourceUnitTests {
    @Test func selectQuotesEveryIdentifier() throws {
        let options = ClickHouseSourceOptions(
            url: "http://x/", database: "d`b", table: "all types", customPredicate: "x = 1", final: true)
        let plan = try ClickHouseSourcePlan(
            described: [
                ClickHouseSourceColumn(name: "a`b", typeName: "Int32", defaultKind: ""),
                ClickHouseSourceColumn(name: "m", typeName: "Int32", defaultKind: "MATERIALIZED"),
            ], options: options)
        #expect(
            plan.selectSQL(qualifiedTable: options.qualifiedTable, final: true, predicates: ["x = 1"])
                == "SELECT `a\\`b` FROM `d\\`b`.`all types` FINAL WHERE (x = 1) FORMAT Native")
    }

    @Test func optionsAreValidated() {
        #expect(throws: DponeError.self) { try ClickHouseSource(options: ClickHouseSourceOptions(url: "http://x/", table: "")) }
        #expect(throws: DponeError.self) {
            try ClickHouseSource(options: ClickHouseSourceOptions(url: "http://x/", table: "t", columns: ["a", "a"]))
        }
        #expect(throws: DponeError.self) {
            try ClickHouseSource(options: ClickHouseSourceOptions(url: "http://x/", table: "t", batchRows: 0))
        }
    }

    @Test func lookbackDurations() {
        #expect(ClickHouseLookback.duration("5 minutes") == 300_000_000)
        #expect(ClickHouseLookback.duration("1 day") == 86_400_000_000)
        #expect(ClickHouseLookback.duration("2h") == 7_200_000_000)
        #expect(ClickHouseLookback.duration("5") == nil)
        #expect(ClickHouseLookback.duration("five minutes") == nil)
    }

    @Test func cursorLiteralsAreTyped() throws {
        func literal(_ typeName: String, _ value: Value) throws -> String? {
            let type = ClickHouseType(parsing: typeName)!
            let field = try ClickHouseTypes.field(name: "c", type: type)
            let cursor = try ClickHouseCursor(name: "c", type: type, field: field, index: 0, resumeFrom: nil, table: "t")
            return try cursor.literal(value, table: "t")
        }
        #expect(try literal("Int32", .int(-5)) == "-5")
        #expect(try literal("UInt64", .decimal(Int128(UInt64.max), scale: 0)) == "18446744073709551615")
        #expect(try literal("Decimal(12, 2)", .decimal(-150, scale: 2)) == "CAST('-1.50' AS Decimal(38, 2))")
        #expect(try literal("Date", .date(codecDays(2024, 1, 5))) == "toDate('2024-01-05')")
        #expect(try literal("Date", .date(-1)) == nil)
        let micros = codecMicros(2024, 1, 1, 0, 0, 1, 500_000)
        #expect(try literal("DateTime('UTC')", .timestamp(micros, withTimeZone: true)) == "toDateTime('2024-01-01 00:00:01', 'UTC')")
        #expect(
            try literal("DateTime64(3, 'UTC')", .timestamp(micros, withTimeZone: true))
                == "toDateTime64('2024-01-01 00:00:01.500000', 6, 'UTC')")
        #expect(try literal("LowCardinality(Nullable(String))", .string("a'b")) == "'a\\'b'")
    }

    static let schema = Schema([Field("id", .int64, nullable: false), Field("s", .string, nullable: true)])

    static func batch(_ range: Range<Int>) -> Batch {
        codecBatch(schema, range.map { [.int(Int64($0)), $0 % 3 == 0 ? .null : .string("r\($0)")] })
    }

    @Test func cutterSplitsMergesAndPassesThrough() {
        var cutter = ClickHouseBatchCutter(schema: Self.schema, batchRows: 100, batchBytes: 1 << 30)
        var out: [Batch] = []
        cutter.add(Self.batch(0..<250)) { out.append($0) }  // 100 + 100 + tail of 50 (passes: ≥ half)
        cutter.add(Self.batch(250..<270)) { out.append($0) }  // gathered
        cutter.add(Self.batch(270..<300)) { out.append($0) }  // gathered
        cutter.add(Self.batch(300..<400)) { out.append($0) }  // gathered until 100, then a tail of 50
        cutter.flush { out.append($0) }
        #expect(out.map(\.rowCount) == [100, 100, 50, 100, 50])
        let rows = out.flatMap { b in (0..<b.rowCount).map { b.row($0) } }
        let all = Self.batch(0..<400)
        let expected: [[Value]] = (0..<400).map { all.row($0) }
        #expect(rows == expected)
    }

    @Test func cutterBoundsBytes() {
        var cutter = ClickHouseBatchCutter(schema: Self.schema, batchRows: 1_000_000, batchBytes: 4096)
        var out: [Batch] = []
        cutter.add(Self.batch(0..<5_000)) { out.append($0) }
        cutter.flush { out.append($0) }
        #expect(out.reduce(0) { $0 + $1.rowCount } == 5_000)
        #expect(out.allSatisfy { $0.byteCount <= 4096 + 64 })
        #expect(out.dropLast().allSatisfy { $0.byteCount >= 2048 })
    }
}
