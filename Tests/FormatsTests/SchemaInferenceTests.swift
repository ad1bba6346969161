import Flow
import Testing

@testable import Formats

@Suite struct SchemaInferenceTests {
    @Test func csvCandidatesInOrder() throws {
        let text = """
            flag,n,x,tz,naive,day,word,empty,bin
            true,1,1.5,2024-01-01T00:00:00Z,2024-01-01 10:00:00,2024-01-01,abc,,0
            F,-2,3,2024-01-01 00:00:00,2024-01-02T10:00:00.5,2024-01-02,1,,1
            ,,,,,,,,
            """
        let schema = try SchemaInference.inferCSV(Array(text.utf8))
        #expect(schema.fields.map(\.type) == [
            .bool, .int64, .decimal(precision: 2, scale: 1), .timestamp(withTimeZone: true), .timestamp(withTimeZone: false),
            .date, .string, .string, .int64,
        ])
        #expect(schema.names == ["flag", "n", "x", "tz", "naive", "day", "word", "empty", "bin"])
        #expect(schema.fields.allSatisfy { $0.nullable })
    }

    @Test func oneNonMatchingValueFallsBack() throws {
        #expect(try SchemaInference.inferCSV(Array("a\n1\n2.5\n".utf8)).fields[0].type == .decimal(precision: 2, scale: 1))
        #expect(try SchemaInference.inferCSV(Array("a\n1\n2.5e3\n".utf8)).fields[0].type == .float64)
        #expect(try SchemaInference.inferCSV(Array("a\n1\nx\n".utf8)).fields[0].type == .string)
        #expect(try SchemaInference.inferCSV(Array("a\n2024-01-01\n2024-01-01 00:00\n".utf8)).fields[0].type == .string)
        #expect(try SchemaInference.inferCSV(Array("a\n1\n\"\"\n".utf8)).fields[0].type == .string)
        #expect(try SchemaInference.inferCSV(Array("a\n1\n99999999999999999999\n".utf8)).fields[0].type == .float64)
    }

    @Test func onlyTheSampleIsRead() throws {
        let schema = try SchemaInference.inferCSV(Array("a\n1\n2\nx\n".utf8), sampleRecords: 2)
        #expect(schema.fields[0].type == .int64)
    }

    @Test func headerlessColumnsAreNumbered() throws {
        let schema = try SchemaInference.inferCSV(Array("1,a\n".utf8), options: CSVOptions(hasHeader: false))
        #expect(schema == Schema([Field("column_1", .int64), Field("column_2", .string)]))
    }

    @Test func jsonLinesUnionOfKeysInFirstSeenOrder() throws {
        let text = """
            {"id": 1, "ok": true, "at": "2024-01-01T00:00:00+01:00"}
            {"id": 2, "price": 1.5, "meta": {"a": 1}, "mixed": 1, "day": "2024-01-01"}
            {"none": null, "mixed": "x", "price": 2}
            """
        let schema = try SchemaInference.inferJSONLines(Array(text.utf8))
        #expect(schema == Schema([
            Field("id", .int64), Field("ok", .bool), Field("at", .timestamp(withTimeZone: true)), Field("price", .float64),
            Field("meta", .json), Field("mixed", .string), Field("day", .date), Field("none", .string),
        ]))
    }

    /// Spreadsheet money columns: fixed-point text keeps its scale, with the widest precision and
    /// scale seen; an exponent or more than 38 digits stays float64.
    @Test func fixedPointTextInfersADecimal() throws {
        func type(_ values: String...) throws -> LogicalType {
            try SchemaInference.inferCSV(Array(("a\n" + values.joined(separator: "\n") + "\n").utf8)).fields[0].type
        }
        #expect(try type("1.50", "12.3", "-7") == .decimal(precision: 4, scale: 2))
        #expect(try type("0.05", "0.5") == .decimal(precision: 2, scale: 2))
        #expect(try type("007.25", "+1.5") == .decimal(precision: 3, scale: 2), "leading zeros are not precision")
        #expect(try type("1.5", "1e3") == .float64)
        #expect(try type(String(repeating: "9", count: 30) + "." + String(repeating: "1", count: 8)) == .decimal(precision: 38, scale: 8))
        #expect(try type(String(repeating: "9", count: 31) + "." + String(repeating: "1", count: 8)) == .float64)
        #expect(try type("1.5", "x") == .string)
    }

    /// A UTF-8 byte-order mark (spreadsheet exports) is not part of the first column's name, however
    /// the input is chunked; UTF-16 input is refused clearly.
    @Test func aByteOrderMarkIsDroppedAndUTF16Refused() throws {
        let text: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("id,amount\n1,1.50\n".utf8)
        #expect(try SchemaInference.inferCSV(text).names == ["id", "amount"])
        let schema = Schema([Field("id", .int64), Field("amount", .decimal(precision: 4, scale: 2))])
        for chunk in [1, 2, 3, 5, text.count] {
            let batch = try decodeAll(CSVDecoder(schema: schema, options: CSVOptions(), sourceName: "bom.csv"), String(decoding: text, as: UTF8.self), chunkSize: chunk)
            #expect(rows(batch) == [[.int(1), .decimal(150, scale: 2)]], "chunks of \(chunk)")
        }
        let utf16: [UInt8] = [0xFF, 0xFE] + Array("i\0d\0".utf8)
        #expect(throws: DponeError.self) { try SchemaInference.inferCSV(utf16) }
        do {
            _ = try SchemaInference.inferCSV(utf16)
        } catch let error as DponeError {
            #expect(error.message.contains("is UTF-16") && error.hint?.contains("iconv") == true, "\(error)")
        }
    }

    /// JSON Lines too: a UTF-8 byte-order mark before the first object is dropped, however the input
    /// is chunked, and UTF-16 is refused.
    @Test func jsonLinesDropAByteOrderMark() throws {
        let text: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("{\"id\": 1, \"amount\": 1.5}\n{\"id\": 2}\n".utf8)
        #expect(try SchemaInference.inferJSONLines(text).names == ["id", "amount"])
        let schema = Schema([Field("id", .int64), Field("amount", .float64)])
        for chunk in [1, 3, text.count] {
            let batch = try decodeAll(JSONLinesDecoder(schema: schema, sourceName: "bom.jsonl"), String(decoding: text, as: UTF8.self), chunkSize: chunk)
            #expect(rows(batch) == [[.int(1), .float(1.5)], [.int(2), .null]], "chunks of \(chunk)")
        }
        #expect(throws: DponeError.self) { try SchemaInference.inferJSONLines([0xFE, 0xFF, 0x00, 0x7B]) }
    }
}
