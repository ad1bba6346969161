import Flow

/// A batch from scalar rows (tests only).
func makeBatch(_ fields: [Field], _ rows: [[Value]], operations: [RowOperation]? = nil) -> Batch {
    var builder = BatchBuilder(schema: Schema(fields))
    for row in rows {
        let rejected = builder.append(row: row)
        precondition(rejected == nil, "value \(row[rejected!]) does not fit \(fields[rejected!])")
    }
    return builder.finish(operations: operations)
}

/// One column's values as scalars.
func values(_ batch: Batch, _ name: String) -> [Value] {
    let column = batch.column(named: name)!
    return (0..<column.count).map { column.value(at: $0) }
}

func rows(_ batch: Batch) -> [[Value]] { (0..<batch.rowCount).map { batch.row($0) } }

/// Fields of every logical type.
let allTypeFields: [Field] = [
    Field("b", .bool), Field("i16", .int16), Field("i32", .int32), Field("i64", .int64),
    Field("f32", .float32), Field("f64", .float64), Field("dec", .decimal(precision: 12, scale: 2)),
    Field("s", .string), Field("by", .bytes), Field("d", .date), Field("t", .time),
    Field("ts", .timestamp(withTimeZone: true)), Field("u", .uuid), Field("j", .json),
]

/// A deterministic row of every type; NULLs sprinkled at different periods per column.
func allTypeRow(_ i: Int) -> [Value] {
    let row: [Value] = [
        .bool(i % 2 == 0), .int(Int64(i % 300 - 150)), .int(Int64(i * 1000)), .int(Int64(i) * 1_000_000_007),
        .float(Double(i) / 4), .float(Double(i) * 0.1), .decimal(Int128(i * 101 - 5000), scale: 2),
        .string(String(repeating: "x", count: i % 5) + "é\(i)"), .bytes((0..<(i % 4)).map { UInt8($0 + i % 200) }),
        .date(Int32(i - 100)), .time(Int64(i) * 1_000_001), .timestamp(Int64(i) * 3_600_000_000, withTimeZone: true),
        .uuid((0..<16).map { UInt8(($0 * 17 + i) % 256) }), .json("{\"n\":\(i)}"),
    ]
    return row.enumerated().map { k, v in (i + k) % (k + 3) == 0 ? .null : v }
}

func allTypeBatch(_ range: Range<Int>, operations: Bool = false) -> Batch {
    makeBatch(
        allTypeFields, range.map(allTypeRow),
        operations: operations ? range.map { RowOperation(rawValue: UInt8($0 % 4))! } : nil)
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
