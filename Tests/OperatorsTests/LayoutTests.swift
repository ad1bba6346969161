import Flow
import Testing

@testable import Operators

@Suite struct LayoutTests {
    @Test func sliceKeepsValuesNullsAndOperations() {
        let batch = allTypeBatch(0..<200, operations: true)
        for range in [0..<0, 0..<1, 63..<150, 1..<65, 64..<128, 130..<200, 0..<200] {
            let slice = batch.slice(range)
            #expect(slice.rowCount == range.count)
            #expect(rows(slice) == range.map(allTypeRow))
            #expect(slice.operations == Array(batch.operations![range]))
        }
    }

    @Test func sliceWithoutNullsDropsTheBitmap() {
        let batch = makeBatch([Field("x", .int64)], [[.int(1)], [.null], [.int(3)], [.int(4)]])
        #expect(batch.columns[0].validity != nil)
        #expect(batch.slice(2..<4).columns[0].validity == nil)
        #expect(batch.slice(1..<3).columns[0].nullCount == 1)
    }

    @Test func sliceRebasesVariableOffsets() {
        let batch = makeBatch([Field("s", .string)], [[.string("ab")], [.string("cde")], [.string("f")]])
        guard case .variable(let offsets, let bytes) = batch.slice(1..<3).columns[0].values else {
            Issue.record("expected variable layout")
            return
        }
        #expect(offsets == [0, 3, 4])
        #expect(bytes == Array("cdef".utf8))
    }

    @Test func concatenateRestoresSplitBatches() {
        let batch = allTypeBatch(0..<300, operations: true)
        let cuts = [0, 1, 64, 65, 130, 191, 256, 300]
        let parts = zip(cuts, cuts.dropFirst()).map { batch.slice($0..<$1) }
        let joined = Batch.concatenate(parts)
        #expect(joined.rowCount == 300)
        #expect(rows(joined) == rows(batch))
        #expect(joined.operations == batch.operations)
        #expect(joined.byteCount > 0)
    }

    @Test func concatenateFillsMissingOperationsWithInsert() {
        let fields = [Field("x", .int32)]
        let a = makeBatch(fields, [[.int(1)], [.int(2)]])
        let b = makeBatch(fields, [[.int(3)]], operations: [.delete])
        let joined = Batch.concatenate([a, b])
        #expect(joined.operations == [.insert, .insert, .delete])
        #expect(values(joined, "x") == [.int(1), .int(2), .int(3)])
        #expect(Batch.concatenate([a, makeBatch(fields, [])]).operations == nil)
    }

    @Test func concatenateWithoutNullsHasNoBitmap() {
        let fields = [Field("x", .int64), Field("s", .string)]
        let a = makeBatch(fields, [[.int(1), .string("a")]])
        let b = makeBatch(fields, [[.int(2), .string("bc")]])
        let joined = Batch.concatenate([a, b, a])
        #expect(joined.columns.allSatisfy { $0.validity == nil })
        #expect(values(joined, "s") == [.string("a"), .string("bc"), .string("a")])
    }

    @Test func gatherPicksRowsInOrderWithRepeats() {
        let batch = allTypeBatch(0..<150, operations: true)
        let picks = [149, 0, 64, 64, 7, 128, 63]
        let gathered = batch.gather(rows: picks)
        #expect(rows(gathered) == picks.map(allTypeRow))
        #expect(gathered.operations == picks.map { batch.operations![$0] })
        #expect(batch.gather(rows: []).rowCount == 0)
    }
}
