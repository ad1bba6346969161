import Flow
import Testing

@testable import Formats

@Suite struct CSVEncoderTests {
    static let allTypes = Schema([
        Field("b", .bool), Field("i16", .int16), Field("i32", .int32), Field("i64", .int64),
        Field("f32", .float32), Field("f64", .float64), Field("d", .decimal(precision: 20, scale: 4)),
        Field("day", .date), Field("clock", .time), Field("ts", .timestamp(withTimeZone: false)),
        Field("tstz", .timestamp(withTimeZone: true)), Field("u", .uuid), Field("j", .json), Field("raw", .bytes),
        Field("s", .string),
    ])

    static let allTypesRows: [[Value]] = [
        [
            .bool(true), .int(-32768), .int(7), .int(Int64.min), .float(0.1), .float(0.30000000000000004),
            .decimal(-1, scale: 4), .date(-1), .time(1), .timestamp(-1, withTimeZone: false),
            .timestamp(1_704_164_645_000_006, withTimeZone: true),
            .uuid(Array(0..<16)), .json("{\"a\": \"b,c\"}"), .bytes([]), .string("say \"hi\", ok\nbye"),
        ],
        [
            .bool(false), .int(0), .int(-1), .int(Int64.max), .float(-1e-10), .float(1.7976931348623157e308),
            .decimal(123_456_789, scale: 4), .date(0), .time(0), .timestamp(0, withTimeZone: false),
            .timestamp(0, withTimeZone: true), .uuid(Array(repeating: 255, count: 16)), .json("[]"),
            .bytes([0, 1, 254]), .string(""),
        ],
        Array(repeating: .null, count: 15),
        [
            .null, .null, .null, .null, .float(Double(Float.infinity)), .float(-.infinity), .decimal(0, scale: 4),
            .null, .null, .null, .null, .null, .null, .null, .string("  padded  "),
        ],
    ]

    static func batch(_ schema: Schema, _ rows: [[Value]]) -> Batch {
        var builder = BatchBuilder(schema: schema)
        for row in rows { #expect(builder.append(row: row) == nil) }
        return builder.finish()
    }

    func encode(_ batch: Batch, options: CSVOptions = CSVOptions()) -> String {
        var out: [UInt8] = []
        let encoder = CSVEncoder(schema: batch.schema, options: options)
        encoder.encodeHeader(into: &out)
        encoder.encode(batch, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func quotesOnlyWhenNeeded() {
        let schema = Schema([Field("a", .string), Field("n", .int64)])
        let text = encode(Self.batch(schema, [
            [.string("plain"), .int(1)], [.string("a,b"), .int(2)], [.string("q\"q"), .int(3)],
            [.string(""), .null], [.null, .int(5)], [.string(" lead"), .int(6)], [.string("line\nbreak"), .int(7)],
        ]))
        #expect(text == "a,n\nplain,1\n\"a,b\",2\n\"q\"\"q\",3\n\"\",\n,5\n\" lead\",6\n\"line\nbreak\",7\n")
    }

    @Test func nullTokenSpellsNullAndIsQuotedAsAString() {
        let schema = Schema([Field("a", .string)])
        let options = CSVOptions(nullToken: "NULL", hasHeader: false)
        let text = encode(Self.batch(schema, [[.null], [.string("NULL")], [.string("")]]), options: options)
        #expect(text == "NULL\n\"NULL\"\n\n")
    }

    @Test func canonicalText() {
        let text = encode(Self.batch(Self.allTypes, [Self.allTypesRows[0]]), options: CSVOptions(hasHeader: false))
        #expect(text == "true,-32768,7,-9223372036854775808,0.1,0.30000000000000004,-0.0001,1969-12-31,00:00:00.000001,"
            + "1969-12-31T23:59:59.999999,2024-01-02T03:04:05.000006Z,00010203-0405-0607-0809-0a0b0c0d0e0f,"
            + "\"{\"\"a\"\": \"\"b,c\"\"}\",\"\",\"say \"\"hi\"\", ok\nbye\"\n")
    }

    @Test func roundTripIsExact() throws {
        let original = Self.batch(Self.allTypes, Self.allTypesRows)
        let options = CSVOptions()
        let text = encode(original, options: options)
        for size in [1, 7, 4096] {
            let decoded = try csv(Self.allTypes, text, options: options, chunkSize: size)
            #expect(rows(decoded) == rows(original))
        }
        #expect(encode(try csv(Self.allTypes, text, options: options), options: options) == text)
    }

    @Test func oneColumnNullsSurviveAsBlankLines() throws {
        let schema = Schema([Field("a", .string)])
        let original = Self.batch(schema, [[.string("x")], [.null], [.string("")], [.null]])
        let text = encode(original)
        #expect(text == "a\nx\n\n\"\"\n\n")
        #expect(rows(try csv(schema, text)) == rows(original))
        #expect(rows(try csv(Schema([Field("a", .int64), Field("b", .int64)]), "a,b\n\n1,2\n\n")) == [[.int(1), .int(2)]])
    }

    @Test func roundTripWithCustomDialect() throws {
        let options = CSVOptions(delimiter: UInt8(ascii: "\t"), quote: UInt8(ascii: "'"), nullToken: "\\N", hasHeader: false)
        let original = Self.batch(Self.allTypes, Self.allTypesRows)
        let decoded = try csv(Self.allTypes, encode(original, options: options), options: options)
        #expect(rows(decoded) == rows(original))
    }
}
