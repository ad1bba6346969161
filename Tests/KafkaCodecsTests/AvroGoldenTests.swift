import Flow
import KafkaCodecs
import Testing

/// Payloads written by hand from the Avro specification's binary encoding section.
@Suite struct AvroGoldenTests {
    typealias F = AvroFixture

    static let longCases: [(Int64, [UInt8])] = [
        (0, [0x00]), (1, [0x02]), (-1, [0x01]), (2, [0x04]), (-2, [0x03]), (63, [0x7E]),
        (-64, [0x7F]), (64, [0x80, 0x01]), (-65, [0x81, 0x01]), (8192, [0x80, 0x80, 0x01]),
        (Int64.max, [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        (Int64.min, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    ]

    @Test(arguments: longCases)
    func longs(value: Int64, bytes: [UInt8]) throws {
        #expect(try F.value(#""long""#, bytes) == .int(value))
        #expect(F.zigzag(value) == bytes)
        var out: [UInt8] = []
        let encoder = try AvroEncoder(schema: Schema([Field("v", .int64, nullable: false)]), name: "R")
        var b = BatchBuilder(schema: encoder.schema)
        b.append(row: [.int(value)])
        try encoder.encode(b.finish(), row: 0, into: &out)
        #expect(out == bytes)
    }

    @Test func primitives() throws {
        #expect(try F.value(#""int""#, [0x36]) == .int(27))
        #expect(try F.value(#""int""#, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) == .int(Int64(Int32.min)))
        #expect(try F.value(#""boolean""#, [0x01]) == .bool(true))
        #expect(try F.value(#""boolean""#, [0x00]) == .bool(false))
        #expect(try F.value(#""float""#, [0x00, 0x00, 0x80, 0x3F]) == .float(1.0))
        #expect(try F.value(#""double""#, [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]) == .float(1.0))
        #expect(try F.value(#""double""#, [0, 0, 0, 0, 0, 0, 0x04, 0xC0]) == .float(-2.5))
        #expect(try F.value(#""string""#, [0x06, 0x66, 0x6F, 0x6F]) == .string("foo"))
        #expect(try F.value(#""string""#, [0x04, 0xC3, 0xA9]) == .string("é"))
        #expect(try F.value(#""bytes""#, [0x04, 0x01, 0xFF]) == .bytes([0x01, 0xFF]))
        #expect(try F.value(#""bytes""#, [0x00]) == .bytes([]))
    }

    @Test func namedTypes() throws {
        let e = #"{"type":"enum","name":"Suit","symbols":["SPADES","HEARTS","DIAMONDS"]}"#
        #expect(try F.value(e, [0x04]) == .string("DIAMONDS"))
        let fixed = #"{"type":"fixed","name":"Two","size":2}"#
        #expect(try F.value(fixed, [0xAB, 0xCD]) == .bytes([0xAB, 0xCD]))
    }

    @Test func nullableUnions() throws {
        #expect(try F.value(#"["null","string"]"#, [0x02, 0x02, 0x61]) == .string("a"))
        #expect(try F.value(#"["null","string"]"#, [0x00]) == .null)
        #expect(try F.value(#"["string","null"]"#, [0x00, 0x02, 0x61]) == .string("a"))
        #expect(try F.value(#"["string","null"]"#, [0x02]) == .null)
    }

    @Test func logicalTypes() throws {
        let dec = #"{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}"#
        #expect(try F.value(dec, [0x02, 0x7B]) == .decimal(123, scale: 2))
        #expect(try F.value(dec, [0x02, 0x85]) == .decimal(-123, scale: 2))
        #expect(try F.value(dec, [0x04, 0x01, 0x00]) == .decimal(256, scale: 2))
        #expect(try F.value(dec, [0x04, 0xFF, 0x00]) == .decimal(-256, scale: 2))
        let fixedDec = #"{"type":"fixed","name":"D","size":4,"logicalType":"decimal","precision":9,"scale":3}"#
        #expect(try F.value(fixedDec, [0xFF, 0xFF, 0xFF, 0xFE]) == .decimal(-2, scale: 3))
        #expect(try F.value(#"{"type":"int","logicalType":"date"}"#, [0xCE, 0x28]) == .date(2599))
        #expect(try F.value(#"{"type":"int","logicalType":"time-millis"}"#, [0xD0, 0x0F]) == .time(1_000_000))
        #expect(try F.value(#"{"type":"long","logicalType":"time-micros"}"#, [0xD0, 0x0F]) == .time(1000))
        #expect(try F.value(#"{"type":"long","logicalType":"timestamp-millis"}"#, [0xD0, 0x0F])
            == .timestamp(1_000_000, withTimeZone: true))
        #expect(try F.value(#"{"type":"long","logicalType":"timestamp-micros"}"#, [0x01])
            == .timestamp(-1, withTimeZone: true))
        #expect(try F.value(#"{"type":"long","logicalType":"local-timestamp-millis"}"#, [0x02])
            == .timestamp(1000, withTimeZone: false))
        #expect(try F.value(#"{"type":"long","logicalType":"local-timestamp-micros"}"#, [0x02])
            == .timestamp(1, withTimeZone: false))
        let text = "123e4567-E89B-12d3-a456-426614174000"
        let uuid: [UInt8] = [0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00]
        #expect(try F.value(#"{"type":"string","logicalType":"uuid"}"#, F.string(text)) == .uuid(uuid))
        #expect(try F.value(#"{"type":"fixed","name":"U","size":16,"logicalType":"uuid"}"#, uuid) == .uuid(uuid))
    }

    @Test func complexValuesBecomeJSON() throws {
        #expect(try F.value(#"{"type":"array","items":"long"}"#, [0x04, 0x06, 0x36, 0x00]) == .json("[3,27]"))
        // A block with a negative count carries its byte size (2 bytes) after the count.
        #expect(try F.value(#"{"type":"array","items":"long"}"#, [0x03, 0x04, 0x06, 0x36, 0x00]) == .json("[3,27]"))
        #expect(try F.value(#"{"type":"array","items":"long"}"#, [0x00]) == .json("[]"))
        #expect(try F.value(#"{"type":"map","values":"long"}"#, [0x02, 0x02, 0x61, 0x02, 0x00]) == .json(#"{"a":1}"#))
        #expect(try F.value(#"["int","string"]"#, [0x00, 0x36]) == .json("27"))
        #expect(try F.value(#"["int","string"]"#, [0x02, 0x02, 0x22]) == .json(#""\"""#))
        #expect(try F.value(#"["null","int","string"]"#, [0x00]) == .null)
        let nested = #"""
            {"type":"record","name":"Inner","fields":[
              {"name":"b","type":"bytes"},
              {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}},
              {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},
              {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
              {"name":"f","type":"double"},
              {"name":"n","type":["null","Inner"]}]}
            """#
        let payload: [UInt8] = [0x06, 0x66, 0x6F, 0x6F, 0x02, 0x85, 0x02, 0x02, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F, 0x00]
        #expect(try F.value(nested, payload) == .json(
            #"{"b":"Zm9v","d":"-1.23","t":"1970-01-01T00:00:00.001000Z","e":"Y","f":"NaN","n":null}"#))
    }

    @Test func encoderBytes() throws {
        let schema = Schema([
            Field("id", .int64, nullable: false), Field("name", .string),
            Field("price", .decimal(precision: 5, scale: 2)), Field("day", .date, nullable: false),
            Field("at", .timestamp(withTimeZone: true), nullable: false), Field("ok", .bool, nullable: false),
        ])
        let encoder = try AvroEncoder(schema: schema, name: "Row", namespace: "shop")
        var b = BatchBuilder(schema: schema)
        b.append(row: [.int(1), .string("a"), .decimal(-123, scale: 2), .date(1), .timestamp(64, withTimeZone: true), .bool(true)])
        b.append(row: [.int(-1), .null, .null, .date(0), .timestamp(0, withTimeZone: true), .bool(false)])
        let batch = b.finish()
        var out: [UInt8] = []
        try encoder.encode(batch, row: 0, into: &out)
        #expect(out == [0x02, 0x02, 0x02, 0x61, 0x02, 0x02, 0x85, 0x02, 0x80, 0x01, 0x01])
        out.removeAll()
        try encoder.encode(batch, row: 1, into: &out)
        #expect(out == [0x01, 0x00, 0x00, 0x00, 0x00, 0x00])
    }

    @Test func encoderSchemaJSON() throws {
        let schema = Schema([
            Field("id", .int64, nullable: false), Field("note", .string), Field("amount", .decimal(precision: 12, scale: 2)),
            Field("at", .timestamp(withTimeZone: false)), Field("key", .uuid, nullable: false), Field("doc", .json),
            Field("t", .time, nullable: false), Field("small", .int16, nullable: false),
        ])
        let json = try AvroEncoder(schema: schema, name: "Row", namespace: "shop").avroSchema.canonicalJSON
        #expect(json == #"{"type":"record","name":"shop.Row","fields":[{"name":"id","type":"long"},"#
            + #"{"name":"note","type":["null","string"],"default":null},"#
            + #"{"name":"amount","type":["null",{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}],"default":null},"#
            + #"{"name":"at","type":["null",{"type":"long","logicalType":"local-timestamp-micros"}],"default":null},"#
            + #"{"name":"key","type":{"type":"string","logicalType":"uuid"}},"#
            + #"{"name":"doc","type":["null","string"],"default":null},"#
            + #"{"name":"t","type":{"type":"long","logicalType":"time-micros"}},"#
            + #"{"name":"small","type":"int"}]}"#)
    }
}
