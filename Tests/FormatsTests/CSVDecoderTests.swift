import DponeTestSupport
import Flow
import Testing

@testable import Formats

@Suite struct CSVDecoderTests {
    let people = Schema([Field("id", .int64), Field("name", .string), Field("note", .string)])

    /// Quotes, doubled quotes, embedded delimiter and newlines, CRLF, NULL vs empty string, no final newline.
    let tricky = "id,name,note\r\n1,\"Smith, John\",\"said \"\"hi\"\"\"\r\n2,,\"\"\n3,\"multi\nline\r\ntext\",plain\n\n4,x,\"tail\""

    var trickyRows: [[Value]] {
        [
            [.int(1), .string("Smith, John"), .string("said \"hi\"")],
            [.int(2), .null, .string("")],
            [.int(3), .string("multi\nline\r\ntext"), .string("plain")],
            [.int(4), .string("x"), .string("tail")],
        ]
    }

    @Test func decodesTrickyCSV() throws {
        #expect(rows(try csv(people, tricky)) == trickyRows)
    }

    @Test func everyChunkSizeGivesTheSameRows() throws {
        for size in 1...tricky.utf8.count {
            #expect(rows(try csv(people, tricky, chunkSize: size)) == trickyRows, "chunk size \(size)")
        }
    }

    @Test func everySplitPointGivesTheSameRows() throws {
        let bytes = Array(tricky.utf8)
        for cut in 0...bytes.count {
            var decoder = CSVDecoder(schema: people)
            var builder = BatchBuilder(schema: people)
            try bytes.withUnsafeBytes { raw in
                try decoder.decode(chunk: UnsafeRawBufferPointer(rebasing: raw[0..<cut]), into: &builder)
                try decoder.decode(chunk: UnsafeRawBufferPointer(rebasing: raw[cut...]), into: &builder)
            }
            try decoder.finish(into: &builder)
            #expect(rows(builder.finish()) == trickyRows, "split at \(cut)")
        }
    }

    @Test func rowsAppearOnlyWhenComplete() throws {
        var decoder = CSVDecoder(schema: people)
        var builder = BatchBuilder(schema: people)
        try Array("id,name,note\n1,a,b\n2,\"open".utf8).withUnsafeBytes { try decoder.decode(chunk: $0, into: &builder) }
        #expect(builder.rowCount == 1)
        try Array(" quote\",c\n".utf8).withUnsafeBytes { try decoder.decode(chunk: $0, into: &builder) }
        #expect(builder.rowCount == 2)
        try decoder.finish(into: &builder)
        #expect(rows(builder.finish())[1] == [.int(2), .string("open quote"), .string("c")])
    }

    @Test func headerMatchesFieldsByName() throws {
        let schema = Schema([Field("b", .int32), Field("a", .string)])
        let batch = try csv(schema, "a,extra,b\nx,ignored,5\n")
        #expect(rows(batch) == [[.int(5), .string("x")]])
    }

    @Test func missingHeaderColumnIsAnError() {
        let error = dponeError { _ = try csv(Schema([Field("zzz", .int64)]), "a,b\n1,2\n") }
        #expect(error?.kind == .schema)
        #expect(error?.message.contains("\"zzz\"") == true)
    }

    @Test func withoutHeaderFieldsArePositional() throws {
        let options = CSVOptions(delimiter: UInt8(ascii: ";"), quote: UInt8(ascii: "'"), nullToken: "\\N", hasHeader: false)
        let batch = try csv(people, "1;'a;b';\\N\n2;;'\\N'\n", options: options)
        #expect(rows(batch) == [[.int(1), .string("a;b"), .null], [.int(2), .string(""), .string("\\N")]])
    }

    /// Also the seed of the `csv` fuzz target (`FuzzSeedTests`), whose schema is this one.
    static let everyTypeSchema = Schema([
        Field("b", .bool), Field("i16", .int16), Field("i32", .int32), Field("i64", .int64),
        Field("f32", .float32), Field("f64", .float64), Field("d", .decimal(precision: 12, scale: 3)),
        Field("day", .date), Field("clock", .time), Field("ts", .timestamp(withTimeZone: false)),
        Field("tstz", .timestamp(withTimeZone: true)), Field("u", .uuid), Field("j", .json), Field("raw", .bytes),
    ])
    static let everyTypeText = """
        b,i16,i32,i64,f32,f64,d,day,clock,ts,tstz,u,j,raw
        t,-32768,2147483647,-5,1.5,0.1,-12.5,2024-02-29,23:59:59.5,2024-01-01 00:00:00,2024-01-01T02:00:00+02:00,123E4567-e89b-12d3-a456-426614174000,"{""a"":[1,2]}",\\xdeADbeef
         F , 1 ,,,,,,,,,,,,
        """

    @Test func decodesEveryLogicalType() throws {
        let batch = try csv(Self.everyTypeSchema, Self.everyTypeText)
        #expect(rows(batch)[0] == [
            .bool(true), .int(-32768), .int(2_147_483_647), .int(-5), .float(1.5), .float(0.1),
            .decimal(-12_500, scale: 3), .date(19_782), .time(86_399_500_000),
            .timestamp(1_704_067_200_000_000, withTimeZone: false), .timestamp(1_704_067_200_000_000, withTimeZone: true),
            .uuid([0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00]),
            .json("{\"a\":[1,2]}"), .bytes([0xde, 0xad, 0xbe, 0xef]),
        ])
        #expect(rows(batch)[1] == [.bool(false), .int(1)] + Array(repeating: Value.null, count: 12))
    }

    @Test func quotedEmptyIsNullForNonTextTypes() throws {
        let batch = try csv(Schema([Field("n", .int64), Field("s", .string)]), "n,s\n\"\",\"\"\n")
        #expect(rows(batch) == [[.null, .string("")]])
    }

    @Test func malformedValueNamesLineColumnAndValue() {
        let error = dponeError { _ = try csv(people, "id,name,note\n1,\"two\nlines\",x\n2x,b,c\n") }
        #expect(error?.kind == .source)
        #expect(error?.message == "invalid int64 value '2x' in column \"id\" at line 4 of t.csv")
        #expect(error?.context["line"] == "4")
        #expect(error?.context["column"] == "id")
    }

    @Test func wrongFieldCountNamesTheLine() {
        let error = dponeError { _ = try csv(people, "id,name,note\r\n1,a,b\r\n2,a\r\n") }
        #expect(error?.message == "line 3 of t.csv has 2 fields, expected 3")
    }

    @Test func unterminatedQuoteIsAnError() {
        let error = dponeError { _ = try csv(people, "id,name,note\n1,\"never closed,x\n") }
        #expect(error?.message.contains("unterminated quoted field starting at line 2") == true)
    }

    @Test func textAfterClosingQuoteIsAnError() {
        let error = dponeError { _ = try csv(people, "id,name,note\n1,\"a\"b,c\n") }
        #expect(error?.message.contains("line 2") == true)
    }

    @Test func nullInRequiredColumnIsAnError() {
        let decoder = CSVDecoder(schema: people, sourceName: "t.csv", requiredColumns: ["name"])
        let error = dponeError { _ = try decodeAll(decoder, "id,name,note\n1,a,b\n2,,c\n") }
        #expect(error?.message == "NULL in non-nullable column \"name\" at line 3 of t.csv")
    }

    @Test func emptyInputGivesNoRows() throws {
        #expect(try csv(people, "").rowCount == 0)
        #expect(try csv(people, "id,name,note\n").rowCount == 0)
    }
}
