import Flow
import KafkaCodecs
import Testing

/// Reading data of one schema with another, per the spec's "Schema Resolution".
@Suite struct AvroResolutionTests {
    typealias F = AvroFixture

    @Test func addedFieldsTakeTheirDefaults() throws {
        let writer = F.record(#"{"name":"a","type":"int"}"#)
        let reader = F.record(#"""
            {"name":"a","type":"int"},
            {"name":"s","type":"string","default":"x\u00e9"},
            {"name":"n","type":["null","long"],"default":null},
            {"name":"l","type":["long","null"],"default":7},
            {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2},"default":"\u0001\u0000"},
            {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"},"default":2},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["P","Q"]},"default":"Q"},
            {"name":"arr","type":{"type":"array","items":"int"},"default":[1,2]},
            {"name":"rec","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int","default":9},{"name":"y","type":"string"}]},"default":{"y":"z"}},
            {"name":"f","type":"float","default":1.5}
            """#)
        let decoder = try F.decoder(writer, reader: reader)
        let batch = try F.decode(decoder, [[0x02], [0x04]])
        #expect(batch.row(1) == [
            .int(2), .string("xé"), .null, .int(7), .decimal(256, scale: 2), .timestamp(2000, withTimeZone: true),
            .string("Q"), .json("[1,2]"), .json(#"{"x":9,"y":"z"}"#), .float(1.5),
        ])
    }

    @Test func missingFieldWithoutDefaultFailsAtConstruction() throws {
        let writer = F.record(#"{"name":"a","type":"int"}"#)
        #expect(throws: CodecError("the writer lacks this field and the reader gives no default", path: "b")) {
            try F.decoder(writer, reader: F.record(#"{"name":"a","type":"int"},{"name":"b","type":"int"}"#))
        }
        #expect(throws: CodecError.self) {
            try F.decoder(writer, reader: F.record(#"{"name":"b","type":"int","default":"no"}"#))
        }
    }

    @Test func removedFieldsAreSkippedWhateverTheirShape() throws {
        let writer = F.record(#"""
            {"name":"a","type":"int"},
            {"name":"gone","type":{"type":"array","items":{"type":"map","values":["null","string"]}}},
            {"name":"r","type":{"type":"record","name":"G","fields":[{"name":"f","type":{"type":"fixed","name":"H","size":3}},{"name":"g","type":"double"},{"name":"h","type":"float"}]}},
            {"name":"z","type":"string"}
            """#)
        let reader = F.record(#"{"name":"z","type":"string"},{"name":"a","type":"int"}"#)
        // gone: one block of 1 map (block of 1 entry "k" -> branch 1 "v"), then a byte-sized block.
        var p: [UInt8] = [0x36]
        p += [0x02, 0x02, 0x02, 0x6B, 0x02, 0x02, 0x76, 0x00]
        p += [0x01, 0x0A, 0x02, 0x02, 0x6B, 0x00, 0x00]  // count -1, 5 bytes: a map with k -> null
        p += [0x00]
        p += [1, 2, 3] + [UInt8](repeating: 0, count: 8) + [0, 0, 0, 0]
        p += F.string("end")
        #expect(try F.row(writer, p, reader: reader) == [.string("end"), .int(27)])
    }

    @Test func promotions() throws {
        #expect(try F.value(#""int""#, [0x36], reader: #""long""#) == .int(27))
        #expect(try F.value(#""int""#, [0x36], reader: #""float""#) == .float(27))
        #expect(try F.value(#""int""#, [0x36], reader: #""double""#) == .float(27))
        #expect(try F.value(#""long""#, [0x80, 0x01], reader: #""float""#) == .float(64))
        #expect(try F.value(#""long""#, [0x80, 0x01], reader: #""double""#) == .float(64))
        #expect(try F.value(#""float""#, [0x00, 0x00, 0xC0, 0x3F], reader: #""double""#) == .float(1.5))
        #expect(try F.value(#""string""#, [0x02, 0x61], reader: #""bytes""#) == .bytes([0x61]))
        #expect(try F.value(#""bytes""#, [0x02, 0x61], reader: #""string""#) == .string("a"))
        #expect(throws: CodecError.self) { try F.decoder(F.single(#""long""#), reader: F.single(#""int""#)) }
        #expect(throws: CodecError.self) { try F.decoder(F.single(#""double""#), reader: F.single(#""float""#)) }
        #expect(throws: CodecError.self) { try F.decoder(F.single(#""string""#), reader: F.single(#""int""#)) }
    }

    @Test func logicalUnitsFollowTheWriter() throws {
        let millis = #"{"type":"long","logicalType":"timestamp-millis"}"#
        let micros = #"{"type":"long","logicalType":"timestamp-micros"}"#
        #expect(try F.value(millis, [0x02], reader: micros) == .timestamp(1000, withTimeZone: true))
        #expect(try F.value(micros, [0x02], reader: millis) == .timestamp(1, withTimeZone: true))
        #expect(try F.value(#""long""#, [0x02], reader: millis) == .timestamp(1000, withTimeZone: true))
        let tm = #"{"type":"int","logicalType":"time-millis"}"#
        let tu = #"{"type":"long","logicalType":"time-micros"}"#
        #expect(try F.value(tm, [0x02], reader: tu) == .time(1000))
        let d2 = #"{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}"#
        let d4 = #"{"type":"bytes","logicalType":"decimal","precision":8,"scale":4}"#
        #expect(try F.value(d2, [0x02, 0x7B], reader: d4) == .decimal(12300, scale: 4))
        #expect(try F.value(d4, [0x04, 0x30, 0x0C], reader: d2) == .decimal(123, scale: 2))
        #expect(try F.error(F.single(d4), [0x02, 0x7B], reader: F.single(d2))?.message
            == "decimal at scale 4 does not fit scale 2")
    }

    @Test func enumSymbolsResolveByName() throws {
        let writer = #"{"type":"enum","name":"E","symbols":["A","B","C"]}"#
        let withDefault = #"{"type":"enum","name":"E","symbols":["C","A"],"default":"A"}"#
        #expect(try F.value(writer, [0x00], reader: withDefault) == .string("A"))
        #expect(try F.value(writer, [0x04], reader: withDefault) == .string("C"))
        #expect(try F.value(writer, [0x02], reader: withDefault) == .string("A"))
        let noDefault = #"{"type":"enum","name":"E","symbols":["A","C"]}"#
        #expect(try F.value(writer, [0x04], reader: noDefault) == .string("C"))
        #expect(try F.error(F.single(writer), [0x02], reader: F.single(noDefault))
            == CodecError("enum symbol 1 of the writer is unknown to the reader", path: "v"))
        let renamed = #"{"type":"enum","name":"Other","symbols":["A"]}"#
        #expect(throws: CodecError.self) { try F.decoder(F.single(writer), reader: F.single(renamed)) }
        let aliased = #"{"type":"enum","name":"Other","aliases":["E"],"symbols":["A","B","C"]}"#
        #expect(try F.value(writer, [0x02], reader: aliased) == .string("B"))
    }

    @Test func unions() throws {
        // Reordered branches.
        #expect(try F.value(#"["null","string"]"#, [0x02, 0x02, 0x61], reader: #"["string","null"]"#) == .string("a"))
        #expect(try F.value(#"["null","string"]"#, [0x00], reader: #"["string","null"]"#) == .null)
        #expect(try F.value(#"["int","string"]"#, [0x02, 0x02, 0x61], reader: #"["string","int"]"#) == .json(#""a""#))
        // Writer plain, reader union: the matching branch (promotion when no exact branch).
        #expect(try F.value(#""long""#, [0x02], reader: #"["null","long"]"#) == .int(1))
        #expect(try F.value(#""int""#, [0x02], reader: #"["null","double"]"#) == .float(1))
        // Writer union, reader plain: branches that match decode, others fail on the data.
        #expect(try F.value(#"["null","int"]"#, [0x02, 0x02], reader: #""long""#) == .int(1))
        #expect(try F.error(F.single(#"["null","int"]"#), [0x00], reader: F.single(#""long""#))
            == CodecError("union branch 0 (null) does not match the reader's schema", path: "v"))
        #expect(throws: CodecError.self) { try F.decoder(F.single(#"["null","string"]"#), reader: F.single(#""long""#)) }
    }

    @Test func recordsMatchByNameAndFieldsByAlias() throws {
        let writer = F.single(#"{"type":"record","name":"a.In","fields":[{"name":"old","type":"int"}]}"#)
        let reader = F.single(#"{"type":"record","name":"b.In","fields":[{"name":"new","aliases":["old"],"type":"long"}]}"#)
        #expect(try F.row(writer, [0x36], reader: reader) == [.json(#"{"new":27}"#)])
        let topReader = F.record(#"{"name":"w","aliases":["v"],"type":"string"}"#)
        #expect(try F.row(F.single(#""string""#), [0x02, 0x61], reader: topReader) == [.string("a")])
        let other = F.single(#"{"type":"record","name":"Else","fields":[]}"#)
        #expect(throws: CodecError.self) { try F.decoder(writer, reader: other) }
    }
}
