import Flow
import Testing

@testable import PostgresConnector

/// Pure parts of the PostgreSQL source: the xmin window, the cursor and the options.
struct SourceWindowTests {
    // MARK: xmin window

    @Test func firstRunReadsEverything() {
        let window = PostgresXminWindow(lower: nil, upper: 1000)
        #expect(window.filter == .all(reason: nil))
        #expect(window.predicate == nil)
        #expect(window.positions == .object(["xmin": .object(["upper": .string("1000")])]))
    }

    @Test func sameEpochWindowIsAHalfOpenRange() {
        let epoch: UInt64 = 3 << 32
        let window = PostgresXminWindow(lower: epoch + 500, upper: epoch + 900)
        #expect(window.filter == .sameEpoch(lower: 500, upper: 900))
        #expect(window.predicate == "xmin::text::bigint >= 500 AND xmin::text::bigint < 900")
        #expect(PostgresXminWindow(lower: 42, upper: 42).predicate == "xmin::text::bigint >= 42 AND xmin::text::bigint < 42")
    }

    @Test func windowAcrossOneEpochBoundaryWrapsAndSkipsSpecialXids() {
        let window = PostgresXminWindow(lower: (1 << 32) - 100, upper: (1 << 32) + 50)
        #expect(window.filter == .wrapped(lower: 4_294_967_196, upper: 50))
        #expect(
            window.predicate
                == "xmin::text::bigint >= 4294967196 OR (xmin::text::bigint >= 3 AND xmin::text::bigint < 50)")
    }

    @Test func windowsTooFarApartOrBackwardsReadEverything() {
        let far = PostgresXminWindow(lower: 10, upper: 10 + (1 << 32))
        guard case .all(let reason?) = far.filter else {
            Issue.record("expected a full read, got \(far.filter)")
            return
        }
        #expect(reason.contains("2^32"))
        #expect(far.predicate == nil)
        // Two epochs apart is always 2^32 or more xids.
        #expect(PostgresXminWindow(lower: (1 << 32) - 1, upper: (2 << 32) + 5).predicate == nil)
        let backwards = PostgresXminWindow(lower: 900, upper: 500)
        guard case .all(let why?) = backwards.filter else {
            Issue.record("expected a full read, got \(backwards.filter)")
            return
        }
        #expect(why.contains("above"))
    }

    @Test func storedLowerBoundParses() throws {
        #expect(try PostgresXminWindow.storedLower(nil, table: "t") == nil)
        #expect(try PostgresXminWindow.storedLower(.object(["cursor": .null]), table: "t") == nil)
        let stored = StateValue.object(["xmin": .object(["upper": .string("18446744073709551615")])])
        #expect(try PostgresXminWindow.storedLower(stored, table: "t") == UInt64.max)
        #expect(try PostgresXminWindow.storedLower(.object(["xmin": .object(["upper": .int(77)])]), table: "t") == 77)
        #expect(throws: DponeError.self) {
            try PostgresXminWindow.storedLower(.object(["xmin": .object(["upper": .string("-1")])]), table: "t")
        }
    }

    // MARK: cursor

    static func column(_ name: String, _ type: LogicalType, typeName: String) -> PostgresColumn {
        PostgresColumn(
            field: Field(name, type), typeName: typeName, wire: .default(for: type),
            selectExpression: PostgresSQL.quoteIdentifier(name))
    }

    static func cursorState(_ column: String, _ value: String?) -> StateValue {
        .object(["cursor": .object(["column": .string(column), "value": value.map(StateValue.string) ?? .null])])
    }

    @Test func cursorPredicateCastsTheLiteralToTheColumnType() throws {
        let ts = Self.column("updated at", .timestamp(withTimeZone: true), typeName: "timestamp with time zone")
        let first = try PostgresCursor(column: ts, index: 0, resumeFrom: nil, table: "t")
        #expect(first.predicate(lookback: nil) == nil)
        #expect(first.positions == Self.cursorState("updated at", nil))

        let state = Self.cursorState("updated at", "2024-03-01T10:00:00.5Z")
        let cursor = try PostgresCursor(column: ts, index: 0, resumeFrom: state, table: "t")
        #expect(cursor.predicate(lookback: nil) == "\"updated at\" > '2024-03-01T10:00:00.500000Z'::timestamp with time zone")
        #expect(
            cursor.predicate(lookback: "5 minutes")
                == "\"updated at\" > '2024-03-01T10:00:00.500000Z'::timestamp with time zone - '5 minutes'::interval")

        let id = Self.column("id", .int64, typeName: "bigint")
        let idCursor = try PostgresCursor(column: id, index: 0, resumeFrom: Self.cursorState("id", "42"), table: "t")
        #expect(idCursor.predicate(lookback: "1000") == "\"id\" > '42'::bigint - '1000'::bigint")

        let name = Self.column("name", .string, typeName: "text")
        let nameCursor = try PostgresCursor(column: name, index: 0, resumeFrom: Self.cursorState("name", "O'Brien"), table: "t")
        #expect(nameCursor.predicate(lookback: nil) == "\"name\" COLLATE \"C\" > 'O''Brien'::text")
    }

    @Test func storedCursorMustMatchColumnAndType() {
        let id = Self.column("id", .int32, typeName: "integer")
        #expect(throws: DponeError.self) {
            try PostgresCursor(column: id, index: 0, resumeFrom: Self.cursorState("other", "1"), table: "t")
        }
        #expect(throws: DponeError.self) {
            try PostgresCursor(column: id, index: 0, resumeFrom: Self.cursorState("id", "1.5"), table: "t")
        }
    }

    @Test func cursorMaximumSkipsNullsAndKeepsTheStoredValue() throws {
        var cursor = try PostgresCursor(
            column: Self.column("n", .int32, typeName: "integer"), index: 0, resumeFrom: Self.cursorState("n", "10"),
            table: "t")
        var builder = ColumnBuilder(type: .int32)
        builder.append(Int32(3))
        builder.appendNull()
        builder.append(Int32(7))
        cursor.observe(builder.finish())
        #expect(cursor.maximum == .int(10))  // nothing read above the stored cursor (a lookback re-read)
        builder.appendNull()
        builder.append(Int32(12))
        builder.append(Int32(11))
        cursor.observe(builder.finish())
        #expect(cursor.positions == Self.cursorState("n", "12"))
        builder.appendNull()
        cursor.observe(builder.finish())
        #expect(cursor.maximum == .int(12))
    }

    @Test func textCursorMaximumIsByteOrder() throws {
        var cursor = try PostgresCursor(
            column: Self.column("s", .string, typeName: "text"), index: 0, resumeFrom: nil, table: "t")
        var builder = ColumnBuilder(type: .string)
        for s in ["b", "B", "ab", "é"] { builder.append(string: s) }
        builder.appendNull()
        cursor.observe(builder.finish())
        #expect(cursor.maximum == .string("é"))
    }

    @Test func timestampCursorRoundTripsThroughState() throws {
        let column = Self.column("ts", .timestamp(withTimeZone: false), typeName: "timestamp without time zone")
        var cursor = try PostgresCursor(column: column, index: 0, resumeFrom: nil, table: "t")
        var builder = ColumnBuilder(type: column.field.type)
        builder.append(Int64(1_709_287_200_000_001))
        cursor.observe(builder.finish())
        let reloaded = try PostgresCursor(column: column, index: 0, resumeFrom: cursor.positions, table: "t")
        #expect(reloaded.stored == .timestamp(1_709_287_200_000_001, withTimeZone: false))
        #expect(reloaded.predicate(lookback: nil) == "\"ts\" > '2024-03-01T10:00:00.000001'::timestamp without time zone")
    }

    @Test func cursorColumnTypesAreChecked() {
        #expect(throws: DponeError.self) {
            try PostgresCursor.checkCursorColumn(Self.column("f", .bool, typeName: "boolean"), lookback: nil, table: "t")
        }
        let enumColumn = PostgresColumn(
            field: Field("mood", .string), typeName: "mood", wire: .text, selectExpression: "\"mood\"::text AS \"mood\"")
        #expect(throws: DponeError.self) { try PostgresCursor.checkCursorColumn(enumColumn, lookback: nil, table: "t") }
        #expect(throws: DponeError.self) {
            try PostgresCursor.checkCursorColumn(Self.column("s", .string, typeName: "text"), lookback: "1", table: "t")
        }
        #expect(throws: DponeError.self) {
            try PostgresCursor.checkCursorColumn(Self.column("n", .int64, typeName: "bigint"), lookback: "1 day", table: "t")
        }
        #expect(throws: DponeError.self) {
            try PostgresCursor.checkCursorColumn(Self.column("t", .time, typeName: "time"), lookback: "1 minute", table: "t")
        }
        #expect(throws: Never.self) {
            try PostgresCursor.checkCursorColumn(Self.column("n", .int64, typeName: "bigint"), lookback: "1000", table: "t")
        }
    }

    // MARK: options

    @Test func optionsValidateAndNormalizeTheLookback() throws {
        let url = "postgresql://u@h/db"
        #expect(throws: DponeError.self) {
            try PostgresSource(options: PostgresSourceOptions(url: url, table: "t", batchRows: 0))
        }
        #expect(throws: DponeError.self) {
            try PostgresSource(options: PostgresSourceOptions(url: url, table: "t", columns: ["a", "a"]))
        }
        #expect(throws: DponeError.self) {
            try PostgresSource(options: PostgresSourceOptions(url: url, table: "t", customPredicate: "  "))
        }
        let quoted = PostgresSourceOptions(url: url, table: "t", mode: .cursor(column: "ts", lookback: " '5 minutes' "))
        #expect(quoted.lookback == "5 minutes")
        #expect(PostgresSourceOptions(url: url, table: "t", mode: .cursor(column: "n", lookback: "1000")).lookback == "1000")
        #expect(PostgresSourceOptions(url: url, table: "t", mode: .cursor(column: "n", lookback: "''")).lookback == nil)
        let source = try PostgresSource(options: quoted)
        #expect(source.options.batchRows == 65_536)
        #expect(source.options.batchBytes == 4 << 20)
    }
}
