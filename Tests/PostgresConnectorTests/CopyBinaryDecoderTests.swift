import Flow
import PostgresConnector
import Testing

@Suite struct CopyBinaryDecoderTests {
    let schema = CopyBinaryGolden.schema
    let formats = CopyBinaryGolden.formats

    func rows(_ batch: Batch) -> [[Value]] { (0..<batch.rowCount).map { batch.row($0) } }

    @Test func decodesGoldenStream() throws {
        let batch = try decodeAll(CopyBinaryGolden.stream, schema: schema, formats: formats)
        #expect(batch.rowCount == 3)
        #expect(rows(batch) == CopyBinaryGolden.rows)
        // -0.0 keeps its sign.
        if case .float32(let f) = batch.columns[3].values { #expect(f[2].sign == .minus) }
    }

    @Test(arguments: [1, 2, 3, 7, 19, 20, 64])
    func decodesAnySplit(chunkSize: Int) throws {
        let batch = try decodeAll(CopyBinaryGolden.stream, schema: schema, formats: formats, chunkSize: chunkSize)
        #expect(rows(batch) == CopyBinaryGolden.rows)
    }

    @Test func decodesEverySplitPointIntoTwoChunks() throws {
        let stream = CopyBinaryGolden.stream
        for cut in 0...stream.count {
            var decoder = try CopyBinaryDecoder(schema: schema, formats: formats)
            var builder = BatchBuilder(schema: schema)
            try stream.withUnsafeBytes { raw in
                try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[0..<cut]), into: &builder)
                try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[cut...]), into: &builder)
            }
            try decoder.finish()
            #expect(rows(builder.finish()) == CopyBinaryGolden.rows, "cut at \(cut)")
        }
    }

    @Test func countsRowsPerChunkAndDetectsTheEnd() throws {
        var decoder = try CopyBinaryDecoder(schema: schema, formats: formats)
        var builder = BatchBuilder(schema: schema)
        let stream = CopyBinaryGolden.stream
        let n = try stream.withUnsafeBytes { try decoder.decode(UnsafeRawBufferPointer(rebasing: $0[0..<(stream.count - 2)]), into: &builder) }
        #expect(n == 3)
        #expect(!decoder.isFinished)
        #expect(throws: DponeError.self) { try decoder.finish() }
        try stream.withUnsafeBytes { _ = try decoder.decode(UnsafeRawBufferPointer(rebasing: $0[(stream.count - 2)...]), into: &builder) }
        #expect(decoder.isFinished)
        try decoder.finish()
        #expect(decoder.rowsDecoded == 3)
    }

    @Test func rejectsBadStreams() throws {
        var wrongSignature = CopyBinaryGolden.stream
        wrongSignature[0] = 0x51
        #expect(throws: DponeError.self) { try decodeAll(wrongSignature, schema: schema, formats: formats) }

        let narrow = Schema([Field("a", .int16)])
        let e = #expect(throws: DponeError.self) {
            try decodeAll(CopyBinaryGolden.stream, schema: narrow, formats: [.int2])
        }
        #expect(e?.message.contains("16 fields, expected 1") == true)

        var extra = CopyBinaryGolden.stream
        extra.append(0)
        #expect(throws: DponeError.self) { try decodeAll(extra, schema: schema, formats: formats) }

        var oids = CopyBinaryGolden.stream
        oids[13] = 1  // flags bit 16
        #expect(throws: DponeError.self) { try decodeAll(oids, schema: schema, formats: formats) }
    }

    @Test func rejectsFormatsThatDoNotFitTheSchema() {
        #expect(throws: DponeError.self) {
            try CopyBinaryDecoder(schema: Schema([Field("a", .int64)]), formats: [.int4])
        }
        #expect(throws: DponeError.self) {
            try CopyBinaryDecoder(schema: Schema([Field("a", .int64)]), formats: [])
        }
    }

    /// One-column stream around `field` (length-prefixed value).
    func stream(field: [UInt8]) -> [UInt8] {
        CopyBinaryFormat.header + [0, 1] + field + CopyBinaryFormat.trailer
    }

    @Test func rejectsValuesWithoutAFlowValue() {
        let nan = stream(field: [0, 0, 0, 8] + bytes(hex: "00000000c0000000"))
        let e = #expect(throws: DponeError.self) {
            try decodeAll(nan, schema: Schema([Field("n", .decimal(precision: 10, scale: 2))]), formats: [.numeric])
        }
        #expect(e?.message == "cannot decode column \"n\" (decimal(10,2)) of row 1: NaN is not a decimal value")

        let infinity = stream(field: [0, 0, 0, 8] + bytes(hex: "7fffffffffffffff"))
        #expect(throws: DponeError.self) {
            try decodeAll(infinity, schema: Schema([Field("t", .timestamp(withTimeZone: true))]), formats: [.timestamptz])
        }
        let dateInfinity = stream(field: [0, 0, 0, 4] + bytes(hex: "80000000"))
        #expect(throws: DponeError.self) {
            try decodeAll(dateInfinity, schema: Schema([Field("d", .date)]), formats: [.date])
        }
        let midnight24 = stream(field: [0, 0, 0, 8] + bytes(hex: "000000141dd76000"))
        #expect(throws: DponeError.self) {
            try decodeAll(midnight24, schema: Schema([Field("t", .time)]), formats: [.time])
        }
        let jsonbVersion2 = stream(field: [0, 0, 0, 3, 2, 0x7B, 0x7D])
        #expect(throws: DponeError.self) {
            try decodeAll(jsonbVersion2, schema: Schema([Field("j", .json)]), formats: [.jsonb])
        }
        let shortInt = stream(field: [0, 0, 0, 2, 0, 1])
        #expect(throws: DponeError.self) {
            try decodeAll(shortInt, schema: Schema([Field("i", .int32)]), formats: [.int4])
        }
    }

    @Test func skipsHeaderExtension() throws {
        var s = CopyBinaryFormat.signature + [0, 0, 0, 0, 0, 0, 0, 3, 9, 9, 9]
        s += [0, 1, 0, 0, 0, 2, 0, 7] + CopyBinaryFormat.trailer
        let batch = try decodeAll(s, schema: Schema([Field("a", .int16)]), formats: [.int2], chunkSize: 1)
        #expect(batch.row(0) == [.int(7)])
    }
}
