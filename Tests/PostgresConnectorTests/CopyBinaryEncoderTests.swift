import Flow
import PostgresConnector
import Testing

@Suite struct CopyBinaryEncoderTests {
    @Test func encodesGoldenStreamByteForByte() throws {
        var encoder = try CopyBinaryEncoder(schema: CopyBinaryGolden.schema, formats: CopyBinaryGolden.formats)
        var out: [UInt8] = []
        try encoder.encode(CopyBinaryGolden.batch, into: &out)
        encoder.finish(into: &out)
        #expect(hex(out) == CopyBinaryGolden.hex)
    }

    @Test func writesTheHeaderOnceAcrossBatches() throws {
        let schema = Schema([Field("a", .int32)])
        var encoder = CopyBinaryEncoder(schema: schema)
        var builder = BatchBuilder(schema: schema)
        builder.append(row: [.int(5)])
        let batch = builder.finish()
        var out: [UInt8] = []
        try encoder.encode(batch, into: &out)
        try encoder.encode(batch, into: &out)
        encoder.finish(into: &out)
        let tuple: [UInt8] = [0, 1, 0, 0, 0, 4, 0, 0, 0, 5]
        #expect(out == CopyBinaryFormat.header + tuple + tuple + CopyBinaryFormat.trailer)
    }

    @Test func emptyStreamIsHeaderAndTrailer() {
        var encoder = CopyBinaryEncoder(schema: Schema([Field("a", .int32)]))
        var out: [UInt8] = []
        encoder.finish(into: &out)
        #expect(out == CopyBinaryFormat.header + CopyBinaryFormat.trailer)
    }

    @Test func defaultFormatsWriteJSONAsJSONB() throws {
        let schema = Schema([Field("j", .json)])
        var encoder = CopyBinaryEncoder(schema: schema)
        var builder = BatchBuilder(schema: schema)
        builder.append(row: [.json("{}")])
        var out: [UInt8] = []
        try encoder.encode(builder.finish(), into: &out)
        #expect(Array(out[CopyBinaryFormat.header.count...]) == [0, 1, 0, 0, 0, 3, 1, 0x7B, 0x7D])
    }

    @Test func roundTripsThroughTheDecoder() throws {
        var encoder = try CopyBinaryEncoder(schema: CopyBinaryGolden.schema, formats: CopyBinaryGolden.formats)
        var out: [UInt8] = []
        for _ in 0..<3 { try encoder.encode(CopyBinaryGolden.batch, into: &out) }
        encoder.finish(into: &out)
        let back = try decodeAll(out, schema: CopyBinaryGolden.schema, formats: CopyBinaryGolden.formats, chunkSize: 5)
        #expect(back.rowCount == 9)
        for i in 0..<9 { #expect(back.row(i) == CopyBinaryGolden.rows[i % 3]) }
    }

    @Test func rejectsOutOfRangeTimes() throws {
        let schema = Schema([Field("t", .time)])
        var encoder = CopyBinaryEncoder(schema: schema)
        var builder = BatchBuilder(schema: schema)
        builder.append(row: [.time(CivilCalendar.microsPerDay)])
        var out: [UInt8] = []
        #expect(throws: DponeError.self) { try encoder.encode(builder.finish(), into: &out) }
    }
}
