import DponeTestSupport
import Flow
import Testing

@testable import Formats

@Suite struct JSONLinesTests {
    func jsonl(_ schema: Schema, _ text: String, chunkSize: Int? = nil) throws -> Batch {
        try decodeAll(JSONLinesDecoder(schema: schema, sourceName: "t.jsonl"), text, chunkSize: chunkSize)
    }

    func encode(_ batch: Batch) -> String {
        var out: [UInt8] = []
        JSONLinesEncoder(schema: batch.schema).encode(batch, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Also the seed of the `jsonl` fuzz target (`FuzzSeedTests`), whose schema is this one.
    static let byNameSchema = Schema([
        Field("id", .int64), Field("name", .string), Field("meta", .json), Field("tags", .string),
        Field("price", .decimal(precision: 10, scale: 2)), Field("at", .timestamp(withTimeZone: true)),
    ])
    static let byNameText = """
        {"name": "a\\"b\\u00e9\\ud83d\\ude00\\n", "id": 1, "skip": {"x": [1, "}"]}, "meta": {"k": [1, 2]}, "tags": [1,"x"], "price": 12.5, "at": "2024-01-01T02:00:00+02:00"}

        {"id": 2, "price": null}\r
        {"id":3,"name":42,"meta":"s","tags":true}
        """

    @Test func decodesByNameIgnoringUnknownKeys() throws {
        let schema = Self.byNameSchema
        let text = Self.byNameText
        let expected: [[Value]] = [
            [.int(1), .string("a\"bé😀\n"), .json("{\"k\": [1, 2]}"), .string("[1,\"x\"]"), .decimal(1250, scale: 2),
             .timestamp(1_704_067_200_000_000, withTimeZone: true)],
            [.int(2), .null, .null, .null, .null, .null],
            [.int(3), .string("42"), .json("\"s\""), .string("true"), .null, .null],
        ]
        for size in [nil, 1, 5, 17] {
            #expect(rows(try jsonl(schema, text, chunkSize: size)) == expected)
        }
    }

    @Test func roundTripIsExact() throws {
        let original = CSVEncoderTests.batch(CSVEncoderTests.allTypes, CSVEncoderTests.allTypesRows)
        let text = encode(original)
        #expect(rows(try jsonl(CSVEncoderTests.allTypes, text, chunkSize: 3)) == rows(original))
        #expect(encode(try jsonl(CSVEncoderTests.allTypes, text)) == text)
    }

    @Test func encodesJSONTypesProperly() {
        let schema = Schema([
            Field("s", .string), Field("n", .int32), Field("d", .decimal(precision: 5, scale: 2)), Field("f", .float64),
            Field("b", .bool), Field("day", .date), Field("j", .json), Field("x", .string),
        ])
        let batch = CSVEncoderTests.batch(schema, [
            [.string("q\"\\\n\u{1}"), .int(-3), .decimal(5, scale: 2), .float(.nan), .bool(true), .date(0),
             .json("{\"a\":1}"), .null],
        ])
        #expect(encode(batch) == "{\"s\":\"q\\\"\\\\\\n\\u0001\",\"n\":-3,\"d\":0.05,\"f\":\"nan\",\"b\":true,"
            + "\"day\":\"1970-01-01\",\"j\":{\"a\":1},\"x\":null}\n")
    }

    @Test func errorsNameTheLine() {
        let schema = Schema([Field("id", .int64)])
        var error = dponeError { _ = try jsonl(schema, "{\"id\": 1}\n{\"id\": 1.5}\n") }
        #expect(error?.message == "invalid int64 value '1.5' in column \"id\" at line 2 of t.jsonl")
        error = dponeError { _ = try jsonl(schema, "{\"id\": 1}\n\n[1]\n") }
        #expect(error?.message.hasPrefix("invalid JSON at line 3 of t.jsonl") == true)
        error = dponeError { _ = try jsonl(schema, "{\"id\": 1, \"id\": 2}\n") }
        #expect(error?.message == "duplicate key \"id\" at line 1 of t.jsonl")
        error = dponeError { _ = try jsonl(schema, "{\"id\": 01}\n") }
        #expect(error?.message.contains("invalid number") == true)
        error = dponeError { _ = try jsonl(schema, "{\"id\": 1} x\n") }
        #expect(error?.context["line"] == "1")
    }
}
