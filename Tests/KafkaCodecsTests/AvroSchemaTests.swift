import Flow
import KafkaCodecs
import Testing

@Suite struct AvroSchemaTests {
    @Test func namespacesAndReferences() throws {
        let s = try AvroSchema(parsing: #"""
            {"type":"record","name":"Order","namespace":"shop","aliases":["Purchase"],"fields":[
              {"name":"item","type":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"}]}},
              {"name":"other","type":"Item"},
              {"name":"full","type":"shop.Item"},
              {"name":"ext","type":{"type":"fixed","name":"Hash","namespace":"x.y","size":4}},
              {"name":"ext2","type":"x.y.Hash"},
              {"name":"top","type":{"type":"enum","name":"Top","namespace":"","symbols":["A"]}}]}
            """#)
        #expect(Set(s.named.keys) == ["shop.Order", "shop.Item", "x.y.Hash", "Top"])
        guard case .record(let r) = s.root else { Issue.record("not a record"); return }
        #expect(r.aliases == ["shop.Purchase"])
        #expect(r.fields[1].type == .reference("shop.Item"))
        #expect(r.fields[4].type == .reference("x.y.Hash"))
    }

    @Test func recursiveRecord() throws {
        let text = #"{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}"#
        let decoder = try AvroFixture.decoder(text)
        #expect(decoder.schema == Schema([Field("v", .int64, nullable: false), Field("next", .json, nullable: true)]))
        let row = try AvroFixture.decode(decoder, [[0x02, 0x02, 0x04, 0x02, 0x06, 0x00]]).row(0)
        #expect(row == [.int(1), .json(#"{"v":2,"next":{"v":3,"next":null}}"#)])
    }

    @Test func canonicalJSONIsStableAndReparses() throws {
        let text = #"""
            { "namespace": "shop", "type": "record", "name": "Order", "doc": "dropped",
              "fields": [
                {"name": "id", "type": "long", "doc": "x"},
                {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
                {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "DONE"], "default": "NEW"}},
                {"name": "m", "type": {"type": "map", "values": ["null", "double"]}, "aliases": ["mm"]},
                {"name": "when", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                {"name": "plain", "type": {"type": "Status"}},
                {"name": "n", "type": {"type":"record","name":"N","namespace":"","fields":[]}},
                {"name": "big", "type": {"type": "long", "default": 5}, "default": 12345678901234567}
              ]}
            """#
        let s = try AvroSchema(parsing: text)
        let expected = #"{"type":"record","name":"shop.Order","fields":[{"name":"id","type":"long"},"#
            + #"{"name":"tags","type":{"type":"array","items":"string"},"default":[]},"#
            + #"{"name":"status","type":{"type":"enum","name":"shop.Status","symbols":["NEW","DONE"],"default":"NEW"}},"#
            + #"{"name":"m","aliases":["mm"],"type":{"type":"map","values":["null","double"]}},"#
            + #"{"name":"when","type":{"type":"long","logicalType":"timestamp-millis"}},"#
            + #"{"name":"plain","type":"shop.Status"},"#
            + #"{"name":"n","type":{"type":"record","name":"N","namespace":"","fields":[]}},"#
            + #"{"name":"big","type":"long","default":12345678901234567}]}"#
        #expect(s.canonicalJSON == expected)
        let again = try AvroSchema(parsing: s.canonicalJSON)
        #expect(again == s)
        #expect(again.canonicalJSON == expected)
    }

    @Test func logicalTypesInvalidForTheirBaseAreIgnored() throws {
        let s = try AvroSchema(parsing: AvroFixture.record(#"""
            {"name":"a","type":{"type":"string","logicalType":"date"}},
            {"name":"b","type":{"type":"bytes","logicalType":"decimal","precision":2,"scale":3}},
            {"name":"c","type":{"type":"fixed","name":"F","size":2,"logicalType":"decimal","precision":5}},
            {"name":"d","type":{"type":"long","logicalType":"something-new"}},
            {"name":"e","type":{"type":"fixed","name":"G","size":2,"logicalType":"decimal","precision":4}}
            """#))
        #expect(try s.flowSchema().fields.map(\.type) == [.string, .bytes, .bytes, .int64, .decimal(precision: 4, scale: 0)])
    }

    @Test func flowMapping() throws {
        let s = try AvroSchema(parsing: AvroFixture.record(#"""
            {"name":"b","type":"boolean"}, {"name":"i","type":"int"}, {"name":"l","type":"long"},
            {"name":"f","type":"float"}, {"name":"d","type":"double"}, {"name":"s","type":"string"},
            {"name":"y","type":"bytes"}, {"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},
            {"name":"x","type":{"type":"fixed","name":"X","size":3}},
            {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":38,"scale":10}},
            {"name":"dt","type":{"type":"int","logicalType":"date"}},
            {"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
            {"name":"tu","type":{"type":"long","logicalType":"time-micros"}},
            {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"lt","type":{"type":"long","logicalType":"local-timestamp-micros"}},
            {"name":"u","type":{"type":"string","logicalType":"uuid"}},
            {"name":"n1","type":["null","int"]}, {"name":"n2","type":["long","null"]},
            {"name":"u3","type":["null","int","string"]}, {"name":"u2","type":["int","string"]},
            {"name":"a","type":{"type":"array","items":"int"}}, {"name":"m","type":{"type":"map","values":"int"}},
            {"name":"r","type":{"type":"record","name":"R","fields":[]}}, {"name":"nr","type":["null","R"]},
            {"name":"z","type":"null"}
            """#))
        let expected: [Field] = [
            Field("b", .bool, nullable: false), Field("i", .int32, nullable: false), Field("l", .int64, nullable: false),
            Field("f", .float32, nullable: false), Field("d", .float64, nullable: false), Field("s", .string, nullable: false),
            Field("y", .bytes, nullable: false), Field("e", .string, nullable: false), Field("x", .bytes, nullable: false),
            Field("dec", .decimal(precision: 38, scale: 10), nullable: false), Field("dt", .date, nullable: false),
            Field("tm", .time, nullable: false), Field("tu", .time, nullable: false),
            Field("ts", .timestamp(withTimeZone: true), nullable: false),
            Field("lt", .timestamp(withTimeZone: false), nullable: false), Field("u", .uuid, nullable: false),
            Field("n1", .int32), Field("n2", .int64), Field("u3", .json), Field("u2", .json, nullable: false),
            Field("a", .json, nullable: false), Field("m", .json, nullable: false), Field("r", .json, nullable: false),
            Field("nr", .json), Field("z", .json),
        ]
        #expect(try s.flowSchema() == Schema(expected))
    }

    @Test func wideDecimalIsRefusedWithItsPath() throws {
        let s = try AvroSchema(parsing: AvroFixture.single(#"{"type":"bytes","logicalType":"decimal","precision":39}"#))
        #expect(throws: CodecError("decimal precision 39 exceeds 38 digits", path: "v")) { try s.flowSchema() }
        let top = try AvroSchema(parsing: #""long""#)
        #expect(throws: CodecError.self) { try top.flowSchema() }
    }

    @Test(arguments: [
        "{", #"{"type":"record","name":"R"}"#, #"{"type":"nope"}"#, #""Unknown""#,
        #"["int","int"]"#, #"["null",["int"]]"#, #"{"type":"enum","name":"E","symbols":["A","A"]}"#,
        #"{"type":"enum","name":"E","symbols":["A"],"default":"B"}"#, #"{"type":"fixed","name":"F"}"#,
        #"{"type":"fixed","name":"F","size":-1}"#, #"{"type":"record","name":"1R","fields":[]}"#,
        #"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
        #"{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"record","name":"R","fields":[]}}]}"#,
        #"{"type":"record","name":"int","fields":[]}"#, #"{"type":"array"}"#, "[1]", "01", #""a" "b""#,
        #"{"a":1,"a":2}"#, #"{"type":"string",}"#, "\"\\ud800\"", String(repeating: "[", count: 300),
    ])
    func invalidSchemasThrow(text: String) {
        #expect(throws: CodecError.self) { try AvroSchema(parsing: text) }
    }

    @Test func jsonParserEscapes() throws {
        let s = try AvroSchema(parsing: #"{"type":"enum","name":"E","symbols":["A"],"doc":"\u00e9\ud83d\ude00\n\"\/"}"#)
        #expect(s.canonicalJSON == #"{"type":"enum","name":"E","symbols":["A"]}"#)
        let d = try AvroSchema(parsing: AvroFixture.single(#"{"type":"string"}"#))
        #expect(try d.flowSchema() == Schema([Field("v", .string, nullable: false)]))
    }

    @Test func schemaBuiltInCodeIsChecked() throws {
        #expect(throws: CodecError.self) {
            try AvroSchema(root: .record(AvroRecord(name: "R", fields: [AvroField(name: "a", type: .reference("Missing"))])))
        }
        #expect(throws: CodecError.self) {
            try AvroEncoder(schema: Schema([Field("bad name", .int32)]), name: "R")
        }
    }
}
