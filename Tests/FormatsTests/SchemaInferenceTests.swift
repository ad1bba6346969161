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
            .bool, .int64, .float64, .timestamp(withTimeZone: true), .timestamp(withTimeZone: false), .date, .string,
            .string, .int64,
        ])
        #expect(schema.names == ["flag", "n", "x", "tz", "naive", "day", "word", "empty", "bin"])
        #expect(schema.fields.allSatisfy { $0.nullable })
    }

    @Test func oneNonMatchingValueFallsBack() throws {
        #expect(try SchemaInference.inferCSV(Array("a\n1\n2.5\n".utf8)).fields[0].type == .float64)
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
}
