import Flow
import KafkaCodecs
import Testing

@Suite struct ProtobufEncoderTests {
    static let schema = Schema([
        Field("id", .int64, nullable: false),
        Field("flag", .bool),
        Field("small", .int16),
        Field("n", .int32, nullable: false),
        Field("ratio", .float32),
        Field("price", .float64),
        Field("amount", .decimal(precision: 12, scale: 2)),
        Field("name", .string),
        Field("blob", .bytes),
        Field("day", .date),
        Field("clock", .time),
        Field("at", .timestamp(withTimeZone: true)),
        Field("order id", .uuid),
        Field("doc", .json),
    ])

    static let uuid: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 1, 2, 3, 4, 5, 6, 7, 8]

    static func batch(_ rows: [[Value]]) -> Batch {
        var b = BatchBuilder(schema: schema)
        for r in rows { #expect(b.append(row: r) == nil) }
        return b.finish()
    }

    @Test func derivedProtoText() throws {
        let text = try ProtoSchemaDerivation.protoText(for: Self.schema, messageName: "Row", package: "dpone.out")
        #expect(text == """
            syntax = "proto3";

            package dpone.out;

            import "google/protobuf/timestamp.proto";

            message Row {
              int64 id = 1;
              optional bool flag = 2;
              optional int32 small = 3;
              int32 n = 4;
              optional float ratio = 5;
              optional double price = 6;
              optional string amount = 7; // decimal(12,2) as text
              optional string name = 8;
              optional bytes blob = 9;
              optional int32 day = 10; // days since 1970-01-01
              optional int64 clock = 11; // microseconds since midnight
              google.protobuf.Timestamp at = 12;
              optional string order_id = 13; // uuid as text
              optional string doc = 14; // JSON text

            }

            """.replacingOccurrences(of: "text\n\n}", with: "text\n}"))
        // The derived text parses back, with the mapping's nullability.
        let decoder = try ProtobufDecoder(protoText: text, messageName: "dpone.out.Row")
        #expect(decoder.schema.fields.map(\.nullable) == [false] + [Bool](repeating: true, count: 2) + [false]
            + [Bool](repeating: true, count: 10))
        #expect(throws: ProtoSchemaError.self) {
            try ProtoSchemaDerivation.protoText(for: Self.schema, messageName: "1Row")
        }
        #expect(throws: ProtoSchemaError.self) {
            try ProtoSchemaDerivation.protoText(for: Schema([Field("a b", .int32), Field("a_b", .int32)]), messageName: "R")
        }
    }

    @Test func goldenEncoding() throws {
        let schema = Schema([Field("a", .int32, nullable: false), Field("b", .string, nullable: false), Field("c", .int64)])
        var b = BatchBuilder(schema: schema)
        b.append(row: [.int(150), .string("testing"), .int(0)])
        b.append(row: [.int(0), .string(""), .null])
        b.append(row: [.int(-1), .string("x"), .int(1)])
        let batch = b.finish()
        let encoder = ProtobufEncoder(schema: schema)
        var out: [UInt8] = []
        try encoder.encode(batch, row: 0, into: &out)
        // a = 150, b = "testing", c = 0 written because optional fields keep their presence.
        #expect(out == [0x08, 0x96, 0x01, 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67, 0x18, 0x00])
        out = []
        try encoder.encode(batch, row: 1, into: &out)
        #expect(out == [])  // proto3 defaults and NULL are left out
        out = []
        try encoder.encode(batch, row: 2, into: &out)
        #expect(out == [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x12, 0x01, 0x78, 0x18, 0x01])
    }

    @Test func timestampsAreMessagesWithFlooredSeconds() throws {
        let schema = Schema([Field("t", .timestamp(withTimeZone: true))])
        var b = BatchBuilder(schema: schema)
        b.append(row: [.timestamp(-1, withTimeZone: true)])
        b.append(row: [.timestamp(0, withTimeZone: true)])
        let batch = b.finish()
        var out: [UInt8] = []
        try ProtobufEncoder(schema: schema).encode(batch, row: 0, into: &out)
        // seconds = -1 (ten-byte varint), nanos = 999 999 000.
        #expect(out == [0x0A, 0x11, 0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01, 0x10, 0x98, 0x8C, 0xEB, 0xDC, 0x03])
        out = []
        try ProtobufEncoder(schema: schema).encode(batch, row: 1, into: &out)
        #expect(out == [0x0A, 0x00])
    }

    @Test func nullInANonNullableColumnIsAnError() {
        let schema = Schema([Field("a", .int32, nullable: true)])
        var b = BatchBuilder(schema: schema)
        b.append(row: [.null])
        let batch = b.finish()
        let strict = ProtobufEncoder(schema: Schema([Field("a", .int32, nullable: false)]))
        var out: [UInt8] = []
        #expect(throws: CodecError("NULL in a column that is not nullable", path: "a")) {
            try strict.encode(batch, row: 0, into: &out)
        }
    }

    @Test func roundTripThroughTheDerivedSchema() throws {
        let long = String(repeating: "é", count: 100)  // a body of 200 bytes: two-byte length prefix
        let rows: [[Value]] = [
            [.int(Int64.min), .bool(false), .int(-3), .int(7), .float(0.5), .float(-2.25), .decimal(-12345, scale: 2),
             .string(long), .bytes([0, 1, 2]), .date(-1), .time(3_600_000_001), .timestamp(1_700_000_000_123_456, withTimeZone: true),
             .uuid(Self.uuid), .json(#"{"a":[1,2]}"#)],
            [.int(0), .null, .null, .int(0), .null, .null, .null, .null, .null, .null, .null, .null, .null, .null],
        ]
        let batch = Self.batch(rows)
        let encoder = ProtobufEncoder(schema: Self.schema)
        let decoder = try ProtobufDecoder(protoText: try encoder.protoText(messageName: "Row"))
        var columns = decoder.schema.fields.map { ColumnBuilder(type: $0.type) }
        for r in 0..<batch.rowCount {
            var out: [UInt8] = []
            try encoder.encode(batch, row: r, into: &out)
            try out.withUnsafeBytes { try decoder.decode($0, into: &columns) }
        }
        let back = Batch(schema: decoder.schema, columns: columns.indices.map { columns[$0].finish() })
        #expect(back.row(0) == [
            .int(Int64.min), .bool(false), .int(-3), .int(7), .float(0.5), .float(-2.25), .string("-123.45"),
            .string(long), .bytes([0, 1, 2]), .int(-1), .int(3_600_000_001), .timestamp(1_700_000_000_123_456, withTimeZone: true),
            .string("12345678-9abc-def0-0102-030405060708"), .string(#"{"a":[1,2]}"#),
        ])
        #expect(back.row(1) == [.int(0)] + [Value](repeating: .null, count: 2) + [.int(0)] + [Value](repeating: .null, count: 10))
    }
}
