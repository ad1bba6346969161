import ClickHouseConnector
import Flow
import Testing

@Suite struct CodecNativeDecoderTests {
    @Test(arguments: [1, 3, 64, 100_000])
    func decodes1816GoldenBlockInAnyChunking(chunkSize: Int) throws {
        let (schema, rows) = try codecDecodeRows(codecBytes(hex: CodecGolden.decoderLegacy), chunkSize: chunkSize)
        #expect(schema?.names == [
            "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "d32", "d64", "d128", "s", "fs", "id",
            "day", "ts", "e", "arr", "sarr", "n", "ns",
        ])
        #expect(schema?.fields.map(\.type) == [
            .int16, .int16, .int32, .int64, .int32, .int32, .int64, .decimal(precision: 20, scale: 0), .float32,
            .float64, .decimal(precision: 9, scale: 2), .decimal(precision: 18, scale: 4),
            .decimal(precision: 38, scale: 6), .string, .string, .uuid, .date, .timestamp(withTimeZone: true),
            .string, .json, .json, .int32, .string,
        ])
        #expect(schema?.fields.map(\.nullable) == Array(repeating: false, count: 21) + [true, true])
        #expect(rows == CodecGolden.decoderLegacyRows)
    }

    @Test(arguments: [1, 5, 100_000])
    func decodesModernGoldenBlockWithLowCardinality(chunkSize: Int) throws {
        let policy = ClickHouseTypePolicy(subMicrosecond: .requireWholeMicroseconds)
        let (schema, rows) = try codecDecodeRows(codecBytes(hex: CodecGolden.decoderModern), chunkSize: chunkSize, policy: policy)
        #expect(schema?.fields.map(\.type) == [
            .timestamp(withTimeZone: true), .timestamp(withTimeZone: true), .timestamp(withTimeZone: true), .bool, .date,
            .string, .string, .decimal(precision: 38, scale: 6), .string, .json, .json, .json, .json, .json,
        ])
        #expect(schema?.fields.map(\.nullable) == [false, false, false, false, false, false, true, true] + Array(repeating: false, count: 6))
        #expect(rows == CodecGolden.decoderModernRows)
    }

    @Test func rejectsNanosecondColumnsUnlessThePolicyAllows() throws {
        let golden = codecBytes(hex: CodecGolden.decoderModern)
        let error = #expect(throws: DponeError.self) { try codecDecodeRows(golden, chunkSize: 1000) }
        #expect(error?.context["column"] == "ts9")
        #expect(error?.kind == .schema)
    }

    @Test func subMicrosecondDigitsFailOrTruncateByPolicy() throws {
        let schema = Schema([Field("t", .timestamp(withTimeZone: true), nullable: false)])
        let encoder = try NativeEncoder(schema: schema, targetTypes: [.dateTime64(precision: 9, timeZone: "UTC")])
        var block: [UInt8] = []
        try encoder.encode(codecBatch(schema, [[.timestamp(-2, withTimeZone: true)]]), into: &block)
        // Patch the ticks to -1500 ns (-1.5 µs).
        let ticks = withUnsafeBytes(of: Int64(-1500).littleEndian) { Array($0) }
        block.replaceSubrange(block.count - 8..<block.count, with: ticks)
        let exact = ClickHouseTypePolicy(subMicrosecond: .requireWholeMicroseconds)
        #expect(throws: DponeError.self) { try codecDecodeRows(block, chunkSize: 100, policy: exact) }
        let (_, rows) = try codecDecodeRows(block, chunkSize: 100, policy: ClickHouseTypePolicy(subMicrosecond: .truncate))
        #expect(rows == [[.timestamp(-2, withTimeZone: true)]])
    }

    @Test func uint64CanBeRejectedByPolicy() throws {
        let golden = codecBytes(hex: CodecGolden.decoderLegacy)
        let error = #expect(throws: DponeError.self) {
            try codecDecodeRows(golden, chunkSize: 1000, policy: ClickHouseTypePolicy(uint64: .reject))
        }
        #expect(error?.context["column"] == "u64")
    }

    @Test func manyBlocksBecomeOneBatchEach() throws {
        let schema = Schema([Field("s", .string), Field("v", .int64, nullable: false)])
        let encoder = try NativeEncoder(schema: schema, targetTypes: [.nullable(.string), .int64])
        var stream: [UInt8] = []
        var expected: [[Value]] = []
        for b in 0..<5 {
            let rows: [[Value]] = (0..<(b * 50 + 1)).map { i in
                [i % 7 == 0 ? .null : .string(String(repeating: "x", count: i % 300)), .int(Int64(b * 1000 + i))]
            }
            expected += rows
            try encoder.encode(codecBatch(schema, rows), into: &stream)
        }
        for chunk in [1, 13, 4096, stream.count] {
            var decoder = NativeDecoder()
            var batches: [Batch] = []
            var start = 0
            while start < stream.count {
                let end = min(stream.count, start + chunk)
                batches += try decoder.decode(Array(stream[start..<end]))
                start = end
            }
            batches += try decoder.finish()
            #expect(batches.map(\.rowCount) == [1, 51, 101, 151, 201])
            #expect(batches.flatMap { b in (0..<b.rowCount).map { b.row($0) } } == expected)
            #expect(decoder.rowsDecoded == expected.count)
        }
    }

    @Test func emptyResultSetsTheSchemaOnly() throws {
        // What the modern engine sends for `SELECT toInt32(1) AS a WHERE 0 FORMAT Native`: a header block.
        var decoder = NativeDecoder()
        let batches = try decoder.decode([1, 0, 1, UInt8(ascii: "a"), 5] + Array("Int32".utf8))
        #expect(batches.isEmpty)
        #expect(try decoder.finish().isEmpty)
        #expect(decoder.schema == Schema([Field("a", .int32, nullable: false)]))
    }

    @Test func truncatedStreamFails() throws {
        let golden = codecBytes(hex: CodecGolden.decoderLegacy)
        var decoder = NativeDecoder()
        _ = try decoder.decode(Array(golden.dropLast(3)))
        #expect(throws: DponeError.self) { try decoder.finish() }
    }

    @Test func serverErrorTextIsReported() throws {
        var decoder = NativeDecoder()
        _ = try decoder.decode(Array("Code: 241, e.displayText() = DB::Exception: Memory limit".utf8))
        let error = #expect(throws: DponeError.self) { try decoder.finish() }
        #expect(error?.message.contains("Memory limit") == true)
    }

    @Test func unsupportedColumnTypeNamesTheColumn() throws {
        var decoder = NativeDecoder()
        let header: [UInt8] = [1, 1, 2] + Array("ip".utf8) + [4] + Array("IPv4".utf8) + [1, 0, 0, 127]
        let error = #expect(throws: DponeError.self) { try decoder.decode(header) }
        #expect(error?.context["column"] == "ip")
        #expect(error?.message.contains("IPv4") == true)
    }

    @Test func laterBlocksMustKeepTheTypes() throws {
        let a: [UInt8] = [1, 1, 1, UInt8(ascii: "a"), 5] + Array("Int32".utf8) + [1, 0, 0, 0]
        let b: [UInt8] = [1, 1, 1, UInt8(ascii: "a"), 5] + Array("Int64".utf8) + [1, 0, 0, 0, 0, 0, 0, 0]
        var decoder = NativeDecoder()
        #expect(try decoder.decode(a).count == 1)
        #expect(throws: DponeError.self) { try decoder.decode(b) }
    }

    /// Found by the `clickhouse-native` fuzz target: nested array offsets that decrease (5 then 1)
    /// made the inner read stop at 1 string while the first row asked for 5; that trapped out of
    /// range. Offsets are now checked when read. An outer offset past Int.max is refused as well.
    @Test(arguments: [
        ("decreasing nested offsets", [UInt8]([2, 0, 0, 0, 0, 0, 0, 0]) + [5, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0] + [1, 0x78]),
        ("outer offset past Int.max", [UInt8](repeating: 0xFF, count: 8)),
    ])
    func malformedArrayOffsetsFailInsteadOfTrapping(what: String, data: [UInt8]) throws {
        let type = "Array(Array(String))"
        let block: [UInt8] = [1, 1, 1, UInt8(ascii: "a"), UInt8(type.utf8.count)] + Array(type.utf8) + data
        var decoder = NativeDecoder()
        let error = #expect(throws: DponeError.self, "\(what)") {
            _ = try decoder.decode(block)
            _ = try decoder.finish()
        }
        #expect(error?.message.contains("array") == true, "\(what): \(error?.message ?? "")")
    }
}
