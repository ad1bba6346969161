import Flow
import Foundation
import Testing

@testable import Operators


@Suite struct LineageColumnsTests {
    @Test func appendsLoadIDAndLoadedAt() throws {
        let batch = makeBatch([Field("x", .int32)], [[.int(1)], [.null], [.int(3)]], operations: [.insert, .update, .delete])
        let id = ULID.make(milliseconds: 42)
        let lineage = LineageColumns(loadID: id, loadedAtMicroseconds: 1_700_000_000_000_001)
        let out = try lineage.apply(batch)
        #expect(out.schema.names == ["x", "__dpone__load_id", "__dpone__loaded_at"])
        #expect(out.schema[1] == Field(TechnicalColumns.loadID, .string, nullable: false))
        #expect(out.schema[2] == Field(TechnicalColumns.loadedAt, .timestamp(withTimeZone: true), nullable: false))
        #expect(values(out, TechnicalColumns.loadID) == Array(repeating: .string(id), count: 3))
        #expect(values(out, TechnicalColumns.loadedAt) == Array(repeating: .timestamp(1_700_000_000_000_001, withTimeZone: true), count: 3))
        #expect(values(out, "x") == [.int(1), .null, .int(3)])
        #expect(out.operations == batch.operations)
        #expect(try lineage.apply(Batch.empty(batch.schema)).rowCount == 0)
    }

    @Test func failsWhenTheColumnsExist() {
        let lineage = LineageColumns(loadID: "x", loadedAtMicroseconds: 0)
        for name in [TechnicalColumns.loadID, TechnicalColumns.loadedAt] {
            let error = #expect(throws: DponeError.self) {
                try lineage.outputSchema(for: Schema([Field("a", .int64), Field(name, .string)]))
            }
            #expect(error?.kind == .schema)
            #expect(error?.message.contains(name) == true)
        }
    }
}
