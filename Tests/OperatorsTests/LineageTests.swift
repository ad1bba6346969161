import Flow
import Foundation
import Testing

@testable import Operators

@Suite struct ULIDTests {
    @Test func hasTwentySixCrockfordCharacters() {
        let id = ULID.make()
        #expect(id.utf8.count == 26)
        let alphabet = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        #expect(id.allSatisfy { alphabet.contains($0) })
    }

    @Test func encodesTheMillisecondTimestamp() {
        let ms: UInt64 = 1_700_000_000_123
        let id = ULID.make(milliseconds: ms)
        #expect(ULID.milliseconds(of: id) == ms)
        #expect(ULID.make(milliseconds: 0).hasPrefix("0000000000"))
        #expect(ULID.make(milliseconds: (1 << 48) - 1).hasPrefix("7ZZZZZZZZZ"))
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        #expect(ULID.milliseconds(of: ULID.make(now: date)) == 1_700_000_000_500)
    }

    @Test func sortsByTimeAndIsRandomWithinAMillisecond() {
        let earlier = ULID.make(milliseconds: 1_000)
        let later = ULID.make(milliseconds: 1_001)
        #expect(earlier < later)
        let ids = Set((0..<1000).map { _ in ULID.make(milliseconds: 5) })
        #expect(ids.count == 1000)
    }

    @Test func rejectsNonULIDs() {
        #expect(ULID.milliseconds(of: "short") == nil)
        #expect(ULID.milliseconds(of: "8ZZZZZZZZZZZZZZZZZZZZZZZZZ") == nil)
        #expect(ULID.milliseconds(of: "0000000000000000000000000U") == nil)
    }
}

@Suite struct LineageColumnsTests {
    @Test func appendsLoadIDAndLoadedAt() throws {
        let batch = makeBatch([Field("x", .int32)], [[.int(1)], [.null], [.int(3)]], operations: [.insert, .update, .delete])
        let id = ULID.make(milliseconds: 42)
        let lineage = LineageColumns(loadID: id, loadedAtMicroseconds: 1_700_000_000_000_001)
        let out = try lineage.apply(batch)
        #expect(out.schema.names == ["x", "__dpone__load_id", "__dpone__loaded_at"])
        #expect(out.schema[1] == Field(DponeColumns.loadID, .string, nullable: false))
        #expect(out.schema[2] == Field(DponeColumns.loadedAt, .timestamp(withTimeZone: true), nullable: false))
        #expect(values(out, DponeColumns.loadID) == Array(repeating: .string(id), count: 3))
        #expect(values(out, DponeColumns.loadedAt) == Array(repeating: .timestamp(1_700_000_000_000_001, withTimeZone: true), count: 3))
        #expect(values(out, "x") == [.int(1), .null, .int(3)])
        #expect(out.operations == batch.operations)
        #expect(try lineage.apply(Batch.empty(batch.schema)).rowCount == 0)
    }

    @Test func failsWhenTheColumnsExist() {
        let lineage = LineageColumns(loadID: "x", loadedAtMicroseconds: 0)
        for name in [DponeColumns.loadID, DponeColumns.loadedAt] {
            let error = #expect(throws: DponeError.self) {
                try lineage.outputSchema(for: Schema([Field("a", .int64), Field(name, .string)]))
            }
            #expect(error?.kind == .schema)
            #expect(error?.message.contains(name) == true)
        }
    }
}
