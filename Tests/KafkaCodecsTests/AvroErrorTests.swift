import Flow
import KafkaCodecs
import Testing

/// Bad payloads throw a `CodecError` naming the field; nothing traps.
@Suite struct AvroErrorTests {
    typealias F = AvroFixture

    static let cases: [(type: String, payload: [UInt8], error: CodecError)] = [
        (#""long""#, [], CodecError("truncated payload", path: "v")),
        (#""long""#, [0x80], CodecError("truncated payload", path: "v")),
        (#""long""#, [UInt8](repeating: 0xFF, count: 10) + [0x01], CodecError("varint longer than 64 bits", path: "v")),
        (#""long""#, [UInt8](repeating: 0x80, count: 9) + [0x02], CodecError("varint longer than 64 bits", path: "v")),
        (#""int""#, [0x80, 0x80, 0x80, 0x80, 0x10], CodecError("int value 2147483648 does not fit 32 bits", path: "v")),
        (#""long""#, [0x02, 0x00], CodecError("1 bytes left after the record")),
        (#""string""#, [0x0A, 0x61, 0x62], CodecError("truncated payload", path: "v")),
        (#""string""#, [0x03, 0x61], CodecError("negative length -2", path: "v")),
        (#""string""#, [0x04, 0xC3, 0x28], CodecError("string is not valid UTF-8", path: "v")),
        (#""string""#, [0x06, 0xED, 0xA0, 0x80], CodecError("string is not valid UTF-8", path: "v")),
        (#""string""#, [0x04, 0xC0, 0x80], CodecError("string is not valid UTF-8", path: "v")),
        (#""boolean""#, [0x02], CodecError("boolean byte 2 is neither 0 nor 1", path: "v")),
        (#""double""#, [0, 0, 0], CodecError("truncated payload", path: "v")),
        (#"{"type":"fixed","name":"X","size":4}"#, [1, 2, 3], CodecError("truncated payload", path: "v")),
        (#"["null","int"]"#, [0x04], CodecError("union index 2 is outside the writer's 2 branches", path: "v")),
        (#"["null","int"]"#, [0x01], CodecError("union index -1 is outside the writer's 2 branches", path: "v")),
        (#"{"type":"enum","name":"E","symbols":["A","B"]}"#, [0x04],
         CodecError("enum index 2 is outside the writer's 2 symbols", path: "v")),
        (#"{"type":"enum","name":"E","symbols":["A","B"]}"#, [0x01],
         CodecError("enum index -1 is outside the writer's 2 symbols", path: "v")),
        (#"{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}"#, [0x04, 0x30, 0x39],
         CodecError("decimal overflow: more than 4 digits", path: "v")),
        (#"{"type":"bytes","logicalType":"decimal","precision":38,"scale":0}"#, [0x22, 0x01] + [UInt8](repeating: 0, count: 16),
         CodecError("decimal overflow: more than 128 bits", path: "v")),
        (#"{"type":"bytes","logicalType":"decimal","precision":38,"scale":0}"#, [0x22, 0x00, 0x80] + [UInt8](repeating: 0, count: 15),
         CodecError("decimal overflow: more than 128 bits", path: "v")),
        (#"{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}"#, [0x00], CodecError("decimal has no bytes", path: "v")),
        (#"{"type":"int","logicalType":"time-millis"}"#, [0x01], CodecError("time of day -1 is outside one day", path: "v")),
        (#"{"type":"int","logicalType":"time-millis"}"#, F.zigzag(86_400_000), CodecError("time of day 86400000 is outside one day", path: "v")),
        (#"{"type":"long","logicalType":"timestamp-millis"}"#, F.zigzag(Int64.max / 100),
         CodecError("timestamp \(Int64.max / 100) overflows microseconds", path: "v")),
        (#"{"type":"string","logicalType":"uuid"}"#, F.string("123e4567-e89b-12d3-a456-42661417400g"), CodecError("string is not a uuid", path: "v")),
        (#"{"type":"string","logicalType":"uuid"}"#, F.string("123e4567e89b12d3a456426614174000"), CodecError("string is not a uuid", path: "v")),
        (#"{"type":"array","items":"int"}"#, [0x02], CodecError("truncated payload", path: "v[0]")),
        (#"{"type":"array","items":"int"}"#, [0x02, 0x02, 0x02], CodecError("truncated payload", path: "v[1]")),
        (#"{"type":"array","items":"null"}"#, [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
         CodecError("block count 9223372036854775807 exceeds what the payload can hold", path: "v")),
        (#"{"type":"array","items":"int"}"#, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
         CodecError("invalid block count -9223372036854775808", path: "v")),
        (#"{"type":"map","values":"int"}"#, [0x02, 0x02, 0xFF, 0x00, 0x00], CodecError("map key is not valid UTF-8", path: "v")),
        (#"{"type":"map","values":"string"}"#, [0x02, 0x02, 0x6B, 0x02, 0xFF, 0x00],
         CodecError("string is not valid UTF-8", path: #"v["k"]"#)),
        (#"{"type":"array","items":{"type":"record","name":"I","fields":[{"name":"p","type":"boolean"}]}}"#,
         [0x04, 0x01, 0x07, 0x00], CodecError("boolean byte 7 is neither 0 nor 1", path: "v[1].p")),
    ]

    @Test(arguments: cases)
    func badPayloadsThrow(type: String, payload: [UInt8], error: CodecError) throws {
        #expect(try F.error(F.single(type), payload) == error)
    }

    @Test func deepNestingIsRefused() throws {
        let list = #"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#
        let decoder = try F.decoder(F.single(list))
        let ok = [UInt8](repeating: 0x02, count: 30) + [0x00]
        #expect(F.error(decoder, ok) == nil)
        let deep = [UInt8](repeating: 0x02, count: 10_000) + [0x00]
        #expect(F.error(decoder, deep)?.message == "value nests deeper than 64 levels")
    }

    @Test func errorsInLaterFieldsNameThem() throws {
        let writer = F.record(#"{"name":"id","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}}"#)
        let e = try F.error(writer, [0x02, 0x04, 0x02, 0x61, 0x02, 0xFF, 0x00])
        #expect(e == CodecError("string is not valid UTF-8", path: "tags[1]"))
    }

    @Test func everyTruncationOfAValidPayloadThrows() throws {
        let schema = F.record(#"""
            {"name":"id","type":"long"}, {"name":"name","type":["null","string"]},
            {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
            {"name":"tags","type":{"type":"array","items":"string"}}, {"name":"ok","type":"boolean"},
            {"name":"score","type":"double"}
            """#)
        let payload: [UInt8] = [0x80, 0x01, 0x02, 0x06, 0x61, 0x62, 0x63, 0x04, 0x01, 0x00,
                                0x04, 0x02, 0x78, 0x02, 0x79, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F]
        let decoder = try F.decoder(schema)
        #expect(F.error(decoder, payload) == nil)
        for n in 0..<payload.count {
            #expect(F.error(decoder, Array(payload[..<n])) != nil, "prefix of \(n) bytes decoded")
        }
        #expect(F.error(decoder, payload + [0]) == CodecError("1 bytes left after the record"))
    }

    @Test func randomBytesThrowInsteadOfTrapping() throws {
        let schema = F.record(#"""
            {"name":"a","type":"int"}, {"name":"s","type":["null","string","bytes"]},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y","Z"]}},
            {"name":"m","type":{"type":"map","values":{"type":"array","items":["null","double"]}}},
            {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":3}},
            {"name":"u","type":{"type":"string","logicalType":"uuid"}},
            {"name":"t","type":{"type":"int","logicalType":"time-millis"}},
            {"name":"r","type":{"type":"record","name":"N","fields":[{"name":"n","type":["null","N"]},{"name":"f","type":"float"}]}}
            """#)
        let decoder = try F.decoder(schema)
        var rng = SplitMix64(state: 42)
        var failures = 0
        let rounds = 3000
        var builder = BatchBuilder(schema: decoder.schema)
        for _ in 0..<rounds {
            let count = Int.random(in: 0..<64, using: &rng)
            let payload = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let before = builder.rowCount
            do {
                try payload.withUnsafeBytes { try decoder.decode($0, into: &builder.columns) }
            } catch is CodecError {
                failures += 1
                for i in builder.columns.indices { builder.columns[i].truncate(to: before) }
            }
            #expect(Set(builder.columns.map(\.count)).count == 1, "columns out of step")
        }
        #expect(failures > rounds * 9 / 10)
        #expect(builder.rowCount == rounds - failures)
    }

    @Test func mutatedValidPayloadsNeverTrap() throws {
        let encoder = try AvroEncoder(schema: AvroRoundTripTests.schema, name: "Row")
        let decoder = try AvroDecoder(schema: encoder.avroSchema)
        let batch = AvroRoundTripTests.batch()
        var rng = SplitMix64(state: 7)
        for row in 0..<batch.rowCount {
            var payload: [UInt8] = []
            try encoder.encode(batch, row: row, into: &payload)
            for _ in 0..<300 {
                var p = payload
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    p[Int.random(in: 0..<p.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                _ = F.error(decoder, p).map { #expect(!$0.message.hasPrefix("not a CodecError")) }
            }
        }
    }
}
