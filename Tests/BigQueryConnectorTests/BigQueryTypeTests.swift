import Flow
import Foundation
import Testing

@testable import BigQueryConnector

@Suite("BigQuery types and row encoding")
struct BigQueryTypeTests {
    @Test func decimalsPickNumericOrBignumericByPrecisionAndScale() throws {
        #expect(try BigQueryType(.decimal(precision: 18, scale: 4), column: "a").ddl == "NUMERIC(18, 4)")
        #expect(try BigQueryType(.decimal(precision: 38, scale: 9), column: "a").ddl == "NUMERIC(38, 9)")
        #expect(try BigQueryType(.decimal(precision: 38, scale: 10), column: "a").ddl == "BIGNUMERIC(38, 10)")
        #expect(try BigQueryType(.decimal(precision: 30, scale: 0), column: "a").ddl == "BIGNUMERIC(30, 0)")
        #expect(try BigQueryType(.numeric, column: "a").ddl == "BIGNUMERIC")
    }

    @Test func everyLogicalTypeHasItsBigQueryType() throws {
        let expected: [(LogicalType, String)] = [
            (.bool, "BOOL"), (.int16, "INT64"), (.int32, "INT64"), (.int64, "INT64"), (.float32, "FLOAT64"), (.float64, "FLOAT64"),
            (.string, "STRING"), (.uuid, "STRING"), (.bytes, "BYTES"), (.date, "DATE"), (.time, "TIME"),
            (.timestamp(withTimeZone: true), "TIMESTAMP"), (.timestamp(withTimeZone: false), "DATETIME"), (.json, "JSON"),
            (.list(.int64), "JSON"),
        ]
        for (logical, name) in expected { #expect(try BigQueryType(logical, column: "c").ddl == name, "\(logical)") }
    }

    @Test func legacyNamesOfTheTablesAPICompareEqual() throws {
        #expect(try BigQueryType(.int64, column: "c").loads(into: "INTEGER"))
        #expect(try BigQueryType(.float64, column: "c").loads(into: "FLOAT"))
        #expect(try BigQueryType(.bool, column: "c").loads(into: "BOOLEAN"))
        #expect(try !BigQueryType(.string, column: "c").loads(into: "INTEGER"))
        #expect(try !BigQueryType(.json, column: "c").loads(into: "STRING"))
        #expect(try BigQueryType(.json, column: "c").loads(into: "STRING", emulator: true))
    }

    @Test func rowsEncodeAsTheNDJSONALoadJobReads() throws {
        let schema = Schema([
            Field("i", .int64), Field("d", .decimal(precision: 10, scale: 2)), Field("s", .string), Field("b", .bytes),
            Field("ts", .timestamp(withTimeZone: true)), Field("dt", .timestamp(withTimeZone: false)), Field("day", .date),
            Field("t", .time), Field("f", .float64), Field("j", .json), Field("ok", .bool), Field("u", .uuid),
        ])
        var builder = BatchBuilder(schema: schema)
        let values: [Value] = [
            .int(-42), .decimal(12_345, scale: 2), .string("a \"q\"\n"), .bytes([0, 1, 255]), .timestamp(1_700_000_000_123_456, withTimeZone: true),
            .timestamp(0, withTimeZone: false), .date(19_000), .time(3_600_000_001), .float(.nan), .json("{\"k\":[1,2]}"), .bool(true),
            .uuid(Array(repeating: 0xAB, count: 16)),
        ]
        #expect(builder.append(row: values) == nil)
        #expect(builder.append(row: Array(repeating: .null, count: values.count)) == nil)
        let batch = builder.finish(operations: [.upsert, .delete])
        var out: [UInt8] = []
        BigQueryRowEncoder(columns: schema.names, stagesOperations: true).encode(batch, rows: 0..<2, firstSequence: 5, into: &out)
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(
            lines[0]
                == #"{"i":-42,"d":"123.45","s":"a \"q\"\n","b":"AAH/","ts":"2023-11-14T22:13:20.123456Z","dt":"1970-01-01T00:00:00","day":"2022-01-08","t":"01:00:00.000001","f":"NaN","j":{"k":[1,2]},"ok":true,"u":"abababab-abab-abab-abab-abababababab","__dpone__seq":5,"__dpone__op":3}"#
        )
        #expect(
            lines[1]
                == #"{"i":null,"d":null,"s":null,"b":null,"ts":null,"dt":null,"day":null,"t":null,"f":null,"j":null,"ok":null,"u":null,"__dpone__seq":6,"__dpone__op":2}"#
        )
        // Every line is a JSON object a load job parses.
        for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any]) }
    }

    @Test func aColumnBigQueryCannotHoldExactlyIsRefusedNamingIt() throws {
        // decimal is at most 38 digits here; every one of them maps. A wider type is refused by the
        // same check, so it is exercised through its message.
        let ok = try BigQueryColumn.columns(of: Schema([Field("a", .decimal(precision: 38, scale: 38))]))
        #expect(ok.first?.type.ddl == "BIGNUMERIC(38, 38)")
        let error = #expect(throws: DponeError.self) { try BigQueryType(.decimal(precision: 60, scale: 39), column: "price") }
        #expect(error?.message.contains("price") == true)
        #expect(error?.message.contains("decimal(60, 39)") == true)
    }
}
