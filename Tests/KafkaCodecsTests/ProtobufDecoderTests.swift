import Flow
import KafkaCodecs
import Testing

@Suite struct ProtobufDecoderTests {
    let order: ProtobufDecoder
    let other: ProtobufDecoder

    init() throws {
        let file = try ProtoFixtures.file()
        order = try ProtobufDecoder(file: file, messageIndexes: [0])
        other = try ProtobufDecoder(file: file, messageName: "shop.Other")
    }

    @Test func schemaFollowsTheMappingRules() {
        #expect(order.schema.fields == [
            Field("id", .int32, nullable: false), Field("name", .string, nullable: false),
            Field("delta", .int32, nullable: false), Field("code", .int64, nullable: false),
            Field("price", .float64, nullable: false), Field("ratio", .float32, nullable: false),
            Field("created", .timestamp(withTimeZone: true), nullable: true), Field("qty", .int64, nullable: true),
            Field("big", .decimal(precision: 20, scale: 0), nullable: false), Field("paid", .bool, nullable: false),
            Field("status", .string, nullable: false), Field("blob", .bytes, nullable: false),
            Field("u32", .int64, nullable: false), Field("s64", .int64, nullable: false),
            Field("sf64", .int64, nullable: false),
        ])
        #expect(other.schema.fields == [
            Field("nums", .json, nullable: false), Field("items", .json, nullable: false),
            Field("counts", .json, nullable: false), Field("choice", .json, nullable: true),
            Field("inner", .json, nullable: true), Field("by_id", .json, nullable: false),
            Field("statuses", .json, nullable: false),
        ])
    }

    /// Bytes written by hand from the encoding spec, one field at a time.
    @Test func goldenScalars() throws {
        let payload: [UInt8] = [
            0x08, 0x96, 0x01,  // 1 id: varint 150
            0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67,  // 2 name: "testing"
            0x18, 0x03,  // 3 delta: sint32 zigzag 3 = -2
            0x25, 0x78, 0x56, 0x34, 0x12,  // 4 code: fixed32 0x12345678
            0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F,  // 5 price: double 1.0
            0x35, 0x00, 0x00, 0xC0, 0x3F,  // 6 ratio: float 1.5
            0x3A, 0x06, 0x08, 0xD2, 0x09, 0x10, 0xE8, 0x07,  // 7 created: {seconds 1234, nanos 1000}
            0x40, 0x00,  // 8 qty: optional, present with 0
            0x48, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,  // 9 big: 2^64-1
            0x50, 0x01,  // 10 paid: true
            0x58, 0x02,  // 11 status: SHIPPED
            0x62, 0x02, 0xDE, 0xAD,  // 12 blob
            0x68, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F,  // 13 u32: 4294967295
            0x70, 0x01,  // 14 s64: zigzag 1 = -1
            0x79, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // 15 sf64: -2
        ]
        let row = try ProtoFixtures.row(order, payload)
        #expect(row == [
            .int(150), .string("testing"), .int(-2), .int(0x1234_5678), .float(1.0), .float(1.5),
            .timestamp(1_234_000_001, withTimeZone: true), .int(0), .decimal(Int128(UInt64.max), scale: 0),
            .bool(true), .string("SHIPPED"), .bytes([0xDE, 0xAD]), .int(4_294_967_295), .int(-1), .int(-2),
        ])
    }

    @Test func negativeInt32IsTenBytesOnTheWire() throws {
        let row = try ProtoFixtures.row(order, [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(row[0] == .int(-1))
    }

    @Test func absentFieldsTakeDefaultsOrNull() throws {
        let row = try ProtoFixtures.row(order, [])
        #expect(row == [
            .int(0), .string(""), .int(0), .int(0), .float(0), .float(0), .null, .null,
            .decimal(0, scale: 0), .bool(false), .string("UNKNOWN"), .bytes([]), .int(0), .int(0), .int(0),
        ])
        let rowOther = try ProtoFixtures.row(other, [])
        #expect(rowOther == [.json("[]"), .json("[]"), .json("{}"), .null, .null, .json("{}"), .json("[]")])
    }

    @Test func lastScalarWinsAndUnknownEnumNumbersBecomeText() throws {
        // id 1 then id 2; status 7 is not declared; an unknown field 99 (varint) in between.
        let row = try ProtoFixtures.row(order, [0x08, 0x01, 0x98, 0x06, 0x05, 0x08, 0x02, 0x58, 0x07])
        #expect(row[0] == .int(2))
        #expect(row[10] == .string("7"))
    }

    @Test func aliasedEnumNumbersTakeTheFirstSymbol() throws {
        #expect(try ProtoFixtures.row(order, [0x58, 0x01])[10] == .string("PAID"))
    }

    @Test func unknownFieldsOfEveryWireTypeAreSkipped() throws {
        var w = Wire()
        w.varint(1, 5)
        w.bytes += [0xA1, 0x01] + [UInt8](repeating: 0, count: 8)  // 20 fixed64
        w.bytes += [0xA5, 0x01, 1, 2, 3, 4]  // 20 fixed32
        w.bytes += [0xA2, 0x01, 0x02, 0x41, 0x42]  // 20 length-delimited
        // 21 group holding a varint and a nested group 22, then its end tag.
        w.bytes += [0xAB, 0x01, 0x08, 0x01, 0xB3, 0x01, 0xB4, 0x01, 0xAC, 0x01]
        w.string(2, "ok")
        let row = try ProtoFixtures.row(order, w.bytes)
        #expect(row[0] == .int(5) && row[1] == .string("ok"))
    }

    @Test func packedAndUnpackedRepeatedAccumulate() throws {
        var w = Wire()
        w.bytes += [0x0A, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05]  // nums packed [3, 270, 86942]
        w.varint(1, 7)  // and one unpacked element
        let row = try ProtoFixtures.row(other, w.bytes)
        #expect(row[0] == .json("[3,270,86942,7]"))
    }

    @Test func repeatedMessagesRenderAsProto3JSON() throws {
        var item1 = Wire()
        item1.string(1, "a\"b")
        item1.double(2, 1.5)
        item1.string(3, "x")
        item1.string(3, "y")
        item1.varint(4, 9_007_199_254_740_993)
        item1.bytes(5, [0xFF, 0x00, 0x10])
        item1.varint(6, 1)
        item1.bytes(7, [0x08, 0x01, 0x10, 0xC0, 0x84, 0x3D])  // 1 s + 1 000 000 ns
        var item2 = Wire()
        item2.string(1, "b")
        item2.varint(4, 0)  // explicit default without presence: left out
        var w = Wire()
        w.bytes(2, item1.bytes)
        w.bytes(2, item2.bytes)
        w.varint(9, 2)
        w.varint(9, 5)
        let row = try ProtoFixtures.row(other, w.bytes)
        #expect(row[1] == .json(#"[{"sku":"a\"b","price":1.5,"tags":["x","y"],"big":"9007199254740993","raw":"/wAQ","kind":"BOOK","at":"1970-01-01T00:00:01.001Z"},{"sku":"b"}]"#))
        #expect(row[6] == .json(#"["SHIPPED",5]"#))
    }

    @Test func mapsRenderAsObjectsLastKeyWinning() throws {
        func entry(_ key: String, _ value: UInt64?) -> [UInt8] {
            var e = Wire()
            e.string(1, key)
            if let value { e.varint(2, value) }
            return e.bytes
        }
        var w = Wire()
        w.bytes(3, entry("a", 1))
        w.bytes(3, entry("b", nil))
        w.bytes(3, entry("a", 3))
        var item = Wire()
        item.string(1, "s")
        var byID = Wire()
        byID.varint(1, UInt64(bitPattern: -5))
        byID.bytes(2, item.bytes)
        w.bytes(8, byID.bytes)
        let row = try ProtoFixtures.row(other, w.bytes)
        #expect(row[2] == .json(#"{"b":0,"a":3}"#))
        #expect(row[5] == .json(#"{"-5":{"sku":"s"}}"#))
    }

    @Test func oneofTakesTheLastMemberSet() throws {
        var w = Wire()
        w.string(4, "hello")
        #expect(try ProtoFixtures.row(other, w.bytes)[3] == .json(#"{"text":"hello"}"#))
        w.varint(6, 0)  // number = 0 replaces text; a oneof member has presence, so 0 shows
        #expect(try ProtoFixtures.row(other, w.bytes)[3] == .json(#"{"number":0}"#))
        var item = Wire()
        item.string(1, "k")
        w.bytes(5, item.bytes)
        var price = Wire()
        price.double(2, 2.0)
        w.bytes(5, price.bytes)  // the second occurrence merges into the first
        #expect(try ProtoFixtures.row(other, w.bytes)[3] == .json(#"{"item":{"sku":"k","price":2.0}}"#))
    }

    @Test func messageOccurrencesMerge() throws {
        var a = Wire()
        a.string(1, "first")
        var b = Wire()
        b.varint(2, 1)
        var w = Wire()
        w.bytes(7, a.bytes)
        w.bytes(7, b.bytes)
        #expect(try ProtoFixtures.row(other, w.bytes)[4] == .json(#"{"x":"first","kind":"BOOK"}"#))
        // An empty message is present: {} rather than NULL.
        #expect(try ProtoFixtures.row(other, [0x3A, 0x00])[4] == .json("{}"))
    }

    @Test func timestampOccurrencesMergeAndSubMicrosecondsTruncate() throws {
        let row = try ProtoFixtures.row(order, [0x3A, 0x02, 0x08, 0x01, 0x3A, 0x03, 0x10, 0xE7, 0x07])
        #expect(row[6] == .timestamp(1_000_000 + 0, withTimeZone: true))  // 999 ns → 0 µs
        let negative = try ProtoFixtures.row(order, [0x3A, 0x0B, 0x08] + Wire.varint(UInt64(bitPattern: -1)))
        #expect(negative[6] == .timestamp(-1_000_000, withTimeZone: true))
    }

    // MARK: errors

    @Test(arguments: [
        ([0x08] as [UInt8], "id", "truncated varint"),
        ([0x12, 0x05, 0x61], "name", "truncated length-delimited"),
        ([0x25, 0x01, 0x02], "code", "truncated fixed32"),
        ([0x0D, 0, 0, 0, 0], "id", "wire type 5 does not fit a field of type int32"),
        ([0x12, 0x02, 0xC3, 0x28], "name", "invalid UTF-8"),
        ([0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01], "id", "varint longer than 10 bytes"),
        ([0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x02], "id", "varint overflows 64 bits"),
        ([0x00, 0x01], "", "invalid field number 0"),
        ([0x0F], "", "invalid wire type 7"),
        ([0xAB, 0x01, 0x08, 0x01], "", "unterminated group"),
        ([0xAC, 0x01], "", "end-group tag without a group"),
        ([0xAB, 0x01, 0xB4, 0x01], "", "ended by field 22"),
        ([0x3A, 0x02, 0x10, 0x7F, 0x3A, 0x00] as [UInt8], "created", ""),
        ([0x3A, 0x06, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], "created.nanos", "out of range"),
        ([0x3A, 0x02, 0x15, 0x00], "created.nanos", "wire type 5"),
    ])
    func malformedPayloadsThrowWithThePath(bytes: [UInt8], path: String, fragment: String) {
        let error = ProtoFixtures.error(order, bytes)
        if fragment.isEmpty {
            #expect(error == nil, "\(String(describing: error))")
            return
        }
        #expect(error?.path == path, "\(String(describing: error))")
        #expect(error?.message.contains(fragment) == true, "\(String(describing: error))")
    }

    @Test func nestedErrorsNameTheFullPath() {
        var bad = Wire()
        bad.bytes(1, [0xC3, 0x28])
        var good = Wire()
        good.string(1, "ok")
        var w = Wire()
        w.bytes(2, good.bytes)
        w.bytes(2, bad.bytes)
        #expect(ProtoFixtures.error(other, w.bytes)?.description == "items[1].sku: invalid UTF-8 in string")
        var entry = Wire()
        entry.varint(1, 3)
        entry.bytes(2, [0x0A])  // Item truncated
        var m = Wire()
        m.bytes(8, entry.bytes)
        #expect(ProtoFixtures.error(other, m.bytes)?.path == "by_id[0].value.sku")
    }

    @Test func proto2RequiredFieldsMustBePresent() throws {
        let decoder = try ProtobufDecoder(protoText: "syntax = \"proto2\"; message M { required int32 a = 1; }")
        #expect(ProtoFixtures.error(decoder, [])?.description == "a: required field is missing")
        #expect(try ProtoFixtures.row(decoder, [0x08, 0x05]) == [.int(5)])
    }

    @Test func deepNestingIsRefusedNotOverflowed() throws {
        let decoder = try ProtobufDecoder(protoText: "syntax = \"proto3\"; message N { N child = 1; }")
        var payload: [UInt8] = []
        for _ in 0..<200 { payload = [0x0A] + Wire.varint(UInt64(payload.count)) + payload }
        #expect(ProtoFixtures.error(decoder, payload)?.message.contains("nested deeper") == true)
    }

    /// Random bytes, and every prefix of a valid payload, either decode or throw a CodecError.
    @Test func randomBytesNeverCrash() throws {
        var rng = SplitMix(state: 42)
        var decoded = 0
        for _ in 0..<3000 {
            let n = Int.random(in: 0...64, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for decoder in [order, other] where ProtoFixtures.error(decoder, bytes) == nil { decoded += 1 }
        }
        #expect(decoded > 0)
        var w = Wire()
        w.bytes += [0x0A, 0x03, 0x01, 0x02, 0x03]
        var item = Wire()
        item.string(1, "abc")
        item.double(2, 3)
        w.bytes(2, item.bytes)
        for cut in 0..<w.bytes.count {
            _ = ProtoFixtures.error(other, Array(w.bytes[..<cut]))
        }
        #expect(ProtoFixtures.error(other, Array(w.bytes[..<(w.bytes.count - 1)])) != nil)
    }

    @Test func aFailedRowCanBeTakenBack() {
        var columns = order.schema.fields.map { ColumnBuilder(type: $0.type) }
        let bad: [UInt8] = [0x08, 0x01, 0x12, 0x02, 0xC3, 0x28]
        #expect(throws: CodecError.self) { try bad.withUnsafeBytes { try order.decode($0, into: &columns) } }
        for i in columns.indices { columns[i].truncate(to: 0) }
        #expect(columns.allSatisfy { $0.count == 0 })
    }
}
