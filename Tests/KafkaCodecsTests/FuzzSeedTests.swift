import DponeTestSupport
import KafkaCodecs
import Testing

/// The seed corpora of the `avro`, `protobuf`, `json-schema` and `confluent-wire` fuzz targets are
/// these suites' goldens. The first byte of a seed picks the mode: even for a payload, odd for a
/// schema text.
@Suite struct KafkaCodecsFuzzSeedTests {
    @Test func avroSeedsAreGoldenSchemasAndAPayloadOfTheTargetsSchema() throws {
        // A row of the fuzz target's writer schema, encoded by hand from the specification.
        let row: [UInt8] =
            [0x01, 0x02, 0x01] + [0x00, 0x00, 0x80, 0x3F] + [0, 0, 0, 0, 0, 0, 0x04, 0x40] + [0x04, 0x61, 0x62]
            + [0x02, 0xFF] + [0x02, 0x02, 0x78] + [0x04] + [1, 2, 3, 4] + [0x04, 0x04, 0xD2] + [0xF0, 0xA8, 0x02] + [0x00]
            + [0x48] + Array("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".utf8) + [0x04, 0x02, 0x04, 0x00]
            + [0x02, 0x02, 0x6B, 0x02, 0x76, 0x00] + [0x02, 0x06]
        var seeds = [(name: "fuzz-schema-row", bytes: FuzzSeeds.moded(0, row))]
        for (i, (value, bytes)) in AvroGoldenTests.longCases.enumerated() where i < 3 {
            _ = value
            seeds.append((name: "long-\(i)", bytes: FuzzSeeds.moded(0, bytes)))
        }
        seeds.append((
            name: "schema-record",
            bytes: FuzzSeeds.moded(1, Array(AvroFixture.record(
                #"{"name":"a","type":["null","long"]},{"name":"b","type":{"type":"array","items":{"type":"map","values":"string"}}}"#
            ).utf8))))
        seeds.append((name: "schema-decimal", bytes: FuzzSeeds.moded(1, Array(AvroFixture.single(
            #"{"type":"fixed","name":"D","size":8,"logicalType":"decimal","precision":18,"scale":4}"#).utf8))))
        #expect(try FuzzSeeds.mismatches(target: "avro", seeds) == [])
    }

    @Test func protobufSeedsAreTheGoldenSchemaAndPayloads() throws {
        let seeds = [
            (name: "shop-proto", bytes: FuzzSeeds.moded(1, Array(ProtoFixtures.shop.utf8))),
            (name: "order-varints", bytes: FuzzSeeds.moded(0, [0x08, 0x01, 0x98, 0x06, 0x05, 0x08, 0x02, 0x58, 0x07])),
            (name: "order-max-varint", bytes: FuzzSeeds.moded(0, [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])),
            (name: "packed", bytes: FuzzSeeds.moded(0, [0x0A, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])),
        ]
        #expect(try FuzzSeeds.mismatches(target: "protobuf", seeds) == [])
    }

    @Test func jsonSchemaSeedsAreTheGoldenSchemaAndPayloads() throws {
        let seeds = [
            (name: "order-schema", bytes: FuzzSeeds.moded(1, Array(JSONSchemaValidatorTests.order.utf8))),
            (name: "order-items", bytes: FuzzSeeds.moded(0, Array(#"{"id": 0, "items": [{"sku": "a", "sub": {"sku": "b"}}]}"#.utf8))),
            (name: "order-escapes", bytes: FuzzSeeds.moded(0, Array(#"{"id": 0, "items": [], "note": "caf\u00e9 \ud83d\ude00 \n"}"#.utf8))),
            (name: "typed-row", bytes: FuzzSeeds.moded(0, Array(
                #"{"id": 1, "name": "ab", "price": 2.5, "paid": true, "at": "2024-02-29T23:59:60.123+05:30", "day": "2024-01-01", "tags": ["x"], "meta": {"k": "v"}}"#.utf8))),
        ]
        #expect(try FuzzSeeds.mismatches(target: "json-schema", seeds) == [])
    }

    @Test func confluentWireSeedsAreTheGoldenFrames() throws {
        let seeds = [
            (name: "avro-id-300", bytes: [0, 0, 0, 0x01, 0x2C, 0x02, 0x61] as [UInt8]),
            (name: "protobuf-first", bytes: [0, 0, 0, 0, 7, 0, 0x08, 0x01]),
            (name: "protobuf-indexes", bytes: [0, 0, 0, 0, 9, 4, 2, 6, 0x08]),
            (name: "protobuf-python", bytes: ConfluentWire.header(schemaID: 13, type: .protobuf) + [0x08, 0x02]),
        ]
        #expect(try FuzzSeeds.mismatches(target: "confluent-wire", seeds) == [])
    }
}
