import Flow
import Testing

@testable import Operators

@Suite struct FilterTests {
    let batch = makeBatch(
        [
            Field("id", .int32), Field("amount", .decimal(precision: 10, scale: 2)), Field("status", .string),
            Field("score", .float64), Field("day", .date), Field("at", .timestamp(withTimeZone: true)),
            Field("ok", .bool), Field("small", .int16),
        ],
        [
            [.int(1), .decimal(1000, scale: 2), .string("paid"), .float(1.5), .date(19782), .timestamp(0, withTimeZone: true), .bool(true), .int(1)],
            [.int(2), .decimal(500, scale: 2), .string("open"), .float(.nan), .date(19781), .timestamp(86_400_000_000, withTimeZone: true), .bool(false), .int(-1)],
            [.int(3), .null, .string("paid"), .null, .null, .null, .null, .null],
            [.int(4), .decimal(2050, scale: 2), .null, .float(-3), .date(19790), .timestamp(-1, withTimeZone: true), .bool(true), .int(300)],
            [.int(5), .decimal(100, scale: 2), .string("paidx"), .float(10), .date(0), .timestamp(1, withTimeZone: true), .bool(false), .int(0)],
        ],
        operations: [.insert, .update, .delete, .upsert, .insert])

    func ids(_ text: String) throws -> [Int64] {
        let out = try Filter(parsing: text).apply(batch)
        return values(out, "id").map { if case .int(let v) = $0 { v } else { -1 } }
    }

    @Test func filtersWithTheExampleExpression() throws {
        #expect(try ids("amount >= 10 and status = 'paid'") == [1])
        let out = try Filter(parsing: "status = 'paid' or id > 4").apply(batch)
        #expect(out.operations == [.insert, .delete, .insert])
        #expect(out.schema == batch.schema)
        #expect(rows(out) == [batch.row(0), batch.row(2), batch.row(4)])
    }

    @Test func nullsNeverMatchAComparison() throws {
        #expect(try ids("status != 'paid'") == [2, 5])
        #expect(try ids("amount < 100000") == [1, 2, 4, 5])
        #expect(try ids("status = null") == [])
        #expect(try ids("status != null") == [])
        #expect(try ids("status is null") == [4])
        #expect(try ids("amount is not null and score is not null") == [1, 2, 4, 5])
    }

    @Test func numbersCompareAcrossKinds() throws {
        #expect(try ids("amount = 5") == [2])
        #expect(try ids("amount > 5.001") == [1, 4])
        #expect(try ids("amount >= 20.5") == [4])
        #expect(try ids("amount <= 1.00") == [5])
        #expect(try ids("amount < 1.005") == [5])
        #expect(try ids("amount > 1.5e0") == [1, 2, 4])
        #expect(try ids("id > 2.5") == [3, 4, 5])
        #expect(try ids("id <= 2.0") == [1, 2])
        #expect(try ids("id = 2e0") == [2])
        #expect(try ids("small > 100000") == [])
        #expect(try ids("small < 100000") == [1, 2, 4, 5])
        #expect(try ids("score >= 1.5") == [1, 5])
        #expect(try ids("score < 0") == [4])
        #expect(try ids("score != 0") == [1, 2, 4, 5])  // NaN != 0 under IEEE
        #expect(try ids("id = '3'") == [3])
    }

    @Test func stringsCompareBytewise() throws {
        #expect(try ids("status > 'paid'") == [5])
        #expect(try ids("status < 'p'") == [2])
        #expect(try ids("status >= 'paid'") == [1, 3, 5])
    }

    @Test func temporalColumnsTakeTextLiterals() throws {
        #expect(try ids("day >= '2024-02-29'") == [1, 4])
        #expect(try ids("day < '1970-01-02'") == [5])
        #expect(try ids("at > '1970-01-01T00:00:00Z'") == [2, 5])
        #expect(try ids("at < '1970-01-01'") == [4])
        #expect(try ids("ok = true") == [1, 4])
        #expect(try ids("ok != 'true'") == [2, 5])
    }

    @Test func programmaticPredicates() throws {
        let p = Predicate.or([
            .comparison(column: "day", op: .equal, literal: .date(0)),
            .and([.comparison(column: "at", op: .equal, literal: .date(1)), .isNotNull("ok")]),
        ])
        #expect(try Filter(p).apply(batch).rowCount == 2)
        #expect(try Filter(.and([])).apply(batch).rowCount == 5)
        #expect(try Filter(.or([])).apply(batch).rowCount == 0)
        #expect(try p.selectedRows(in: batch) == [1, 4])
        #expect(p.columns == ["day", "at", "ok"])
    }

    @Test func schemaErrors() {
        let unknown = #expect(throws: DponeError.self) { try Filter(parsing: "nope = 1").outputSchema(for: batch.schema) }
        #expect(unknown?.kind == .schema)
        #expect(unknown?.message.contains("'nope'") == true)
        #expect(unknown?.message.contains("id, amount") == true)
        let mismatch = #expect(throws: DponeError.self) { try Filter(parsing: "id = 'abc'").outputSchema(for: batch.schema) }
        #expect(mismatch?.kind == .schema)
        #expect(mismatch?.message.contains("'id'") == true)
        #expect(throws: DponeError.self) { try Filter(parsing: "day > 5").outputSchema(for: batch.schema) }
        #expect(throws: DponeError.self) { try Filter(parsing: "status = 5").apply(batch) }
        #expect(throws: DponeError.self) { try Filter(parsing: "nope = 1").apply(batch) }
    }

    @Test func everyTypeCanBeFilteredByEquality() throws {
        let all = allTypeBatch(0..<120)
        for (index, field) in all.schema.fields.enumerated() {
            let column = all.columns[index]
            let probe = column.value(at: 7)
            guard !probe.isNull else { continue }
            let selected = try Filter(.comparison(column: field.name, op: .equal, literal: probe)).apply(all)
            let expected = (0..<120).filter { column.value(at: $0) == probe }
            #expect(selected.rowCount == expected.count, "\(field.name)")
            #expect(!expected.isEmpty)
        }
    }
}
