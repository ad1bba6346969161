import Flow
import KafkaCodecs
import Testing

/// Rows written by `AvroEncoder` read back through `AvroDecoder` unchanged.
@Suite struct AvroRoundTripTests {
    static let schema = Schema([
        Field("b", .bool, nullable: false), Field("s16", .int16), Field("i", .int32, nullable: false),
        Field("l", .int64), Field("f", .float32), Field("d", .float64, nullable: false),
        Field("dec", .decimal(precision: 38, scale: 6)), Field("str", .string), Field("raw", .bytes),
        Field("day", .date), Field("tod", .time), Field("tz", .timestamp(withTimeZone: true)),
        Field("local", .timestamp(withTimeZone: false)), Field("id", .uuid), Field("doc", .json),
    ])

    static let uuid: [UInt8] = Array(0..<16)

    static func batch() -> Batch {
        var b = BatchBuilder(schema: schema)
        let maxDecimal = DecimalMath.pow10[38] - 1
        b.append(row: [
            .bool(true), .int(-32768), .int(Int64(Int32.max)), .int(Int64.min), .float(1.5), .float(-0.0),
            .decimal(maxDecimal, scale: 6), .string("héllo \"x\""), .bytes([0, 255, 128]), .date(-719_162),
            .time(86_399_999_999), .timestamp(Int64.max, withTimeZone: true), .timestamp(-1, withTimeZone: false),
            .uuid(uuid), .json(#"{"a":[1,2]}"#),
        ])
        b.append(row: [
            .bool(false), .null, .int(0), .null, .null, .float(.infinity), .null, .null, .null, .null, .null, .null,
            .null, .uuid(Array(repeating: 0xFF, count: 16)), .null,
        ])
        b.append(row: [
            .bool(false), .int(7), .int(-1), .int(1), .float(.nan), .float(1e300), .decimal(-maxDecimal, scale: 6),
            .string(""), .bytes([]), .date(0), .time(0), .timestamp(0, withTimeZone: true),
            .timestamp(0, withTimeZone: false), .uuid(uuid), .json("[]"),
        ])
        return b.finish()
    }

    @Test func everyFlowTypeRoundTrips() throws {
        let encoder = try AvroEncoder(schema: Self.schema, name: "Row", namespace: "t")
        let decoder = try AvroDecoder(schema: try AvroSchema(parsing: encoder.avroSchema.canonicalJSON))
        // Avro has no int16 and no json: they come back as int32 and string.
        let expected = Schema(Self.schema.fields.map { f in
            switch f.type {
            case .int16: Field(f.name, .int32, nullable: f.nullable)
            case .json: Field(f.name, .string, nullable: f.nullable)
            default: f
            }
        })
        #expect(decoder.schema == expected)
        let batch = Self.batch()
        var payloads: [[UInt8]] = []
        for row in 0..<batch.rowCount {
            var out: [UInt8] = []
            try encoder.encode(batch, row: row, into: &out)
            payloads.append(out)
        }
        let back = try AvroFixture.decode(decoder, payloads)
        for row in 0..<batch.rowCount {
            let want = batch.row(row).map { v -> Value in if case .json(let s) = v { .string(s) } else { v } }
            let got = back.row(row)
            for (k, (w, g)) in zip(want, got).enumerated() {
                if case .float(let x) = w, x.isNaN, case .float(let y) = g {
                    #expect(y.isNaN)
                } else {
                    #expect(w == g, "row \(row) column \(Self.schema[k].name)")
                }
            }
        }
    }

    @Test func encoderRefusesWhatItCannotWrite() throws {
        let encoder = try AvroEncoder(schema: Schema([Field("a", .int32, nullable: false)]), name: "R")
        var b = BatchBuilder(schema: Schema([Field("a", .int32, nullable: true)]))
        b.append(row: [.null])
        var out: [UInt8] = []
        #expect(throws: CodecError("null in a non-nullable column", path: "a")) {
            try encoder.encode(b.finish(), row: 0, into: &out)
        }
        var other = BatchBuilder(schema: Schema([Field("a", .string)]))
        other.append(row: [.string("x")])
        #expect(throws: CodecError.self) { try encoder.encode(other.finish(), row: 0, into: &out) }
        #expect(throws: CodecError.self) { try encoder.encode(other.finish(), row: 5, into: &out) }
    }
}
