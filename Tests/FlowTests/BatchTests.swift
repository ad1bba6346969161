import Flow
import Testing

@Suite struct BatchTests {
    @Test func buildersKeepValuesNullsAndTypes() {
        let schema = Schema([
            Field("i", .int32), Field("s", .string), Field("d", .decimal(precision: 12, scale: 2)),
            Field("u", .uuid), Field("t", .timestamp(withTimeZone: true)),
        ])
        var b = BatchBuilder(schema: schema)
        b.append(row: [.int(1), .string("a"), .decimal(12345, scale: 2), .uuid(Array(0..<16)), .timestamp(5, withTimeZone: true)])
        b.append(row: [.null, .null, .null, .null, .null])
        b.append(row: [.int(3), .string(""), .decimal(-1, scale: 2), .uuid(Array(repeating: 255, count: 16)), .timestamp(-7, withTimeZone: true)])
        let batch = b.finish()
        #expect(batch.rowCount == 3)
        #expect(batch.row(0) == [.int(1), .string("a"), .decimal(12345, scale: 2), .uuid(Array(0..<16)), .timestamp(5, withTimeZone: true)])
        #expect(batch.row(1) == [.null, .null, .null, .null, .null])
        #expect(batch.row(2)[1] == .string(""), "an empty string is not NULL")
        #expect(batch.columns.allSatisfy { $0.nullCount == 1 })
    }

    @Test func validityBitmapIsOnlyAllocatedOnceANullAppears() {
        var c = ColumnBuilder(type: .int64)
        for i in 0..<100 { c.append(Int64(i)) }
        let noNulls = c.finish()
        #expect(noNulls.validity == nil)
        for i in 0..<130 { if i == 70 { c.appendNull() } else { c.append(Int64(i)) } }
        let oneNull = c.finish()
        #expect(oneNull.nullCount == 1)
        #expect(oneNull.isNull(70))
        #expect(!oneNull.isNull(69) && !oneNull.isNull(129) && !oneNull.isNull(0))
    }

    @Test(arguments: [LogicalType.int64, .string, .uuid, .bool, .decimal(precision: 10, scale: 2)])
    func truncateTakesBackRowsAndTheirNulls(_ type: LogicalType) {
        let values: [Value] = [
            .int(7), .string("keep"), .uuid(Array(0..<16)), .bool(true), .decimal(123, scale: 2),
        ]
        let given = values.first { var probe = ColumnBuilder(type: type); return probe.append(value: $0) }!
        var probe = ColumnBuilder(type: type)
        probe.append(value: given)
        let keep = probe.finish().value(at: 0)  // as the column reads it back (an int in a decimal column)
        var c = ColumnBuilder(type: type)
        for i in 0..<70 { if i % 9 == 0 { c.appendNull() } else { c.append(value: keep) } }
        c.truncate(to: 64)
        #expect(c.count == 64)
        c.append(value: keep)
        c.truncate(to: 3)
        c.appendNull()
        let column = c.finish()
        #expect(column.count == 4)
        #expect(column.nullCount == 2, "rows 0 and 3 are NULL; the taken-back NULLs are not counted")
        #expect(column.value(at: 1) == keep && column.value(at: 2) == keep)
        #expect(column.isNull(3))
        var allValid = ColumnBuilder(type: type)
        allValid.append(value: keep)
        allValid.appendNull()
        allValid.truncate(to: 1)
        #expect(allValid.finish().validity == nil, "no NULL left: no bitmap")
    }

    @Test func byteCountCountsValuesOffsetsAndBitmap() {
        let batch = makeBatch(first: 0, rows: 1000, padding: 10)
        // int64: 8000; string: 1001 offsets * 4 + 10_000 bytes; no bitmaps.
        #expect(batch.byteCount == 8000 + 4004 + 10_000)
    }

    @Test func valuesOrderAcrossNumericKinds() {
        #expect(Value.int(1) < Value.float(1.5))
        #expect(Value.decimal(150, scale: 2) < Value.decimal(16, scale: 1))
        #expect(Value.null < Value.int(Int64.min))
        #expect(Value.string("a") < Value.string("b"))
    }

    @Test func logicalTypesParseTheirOwnSpelling() {
        let all: [LogicalType] = [
            .bool, .int16, .int32, .int64, .float32, .float64, .decimal(precision: 12, scale: 2), .string, .bytes,
            .date, .time, .timestamp(withTimeZone: false), .timestamp(withTimeZone: true), .uuid, .json,
        ]
        for t in all { #expect(LogicalType(parsing: t.description) == t) }
        #expect(LogicalType(parsing: "numeric(39,2)") == nil, "Int128 holds 38 digits")
        #expect(LogicalType(parsing: "decimal(5,6)") == nil)
        #expect(LogicalType(parsing: "varchar2") == nil)
    }
}
