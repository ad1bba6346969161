import Flow
import Testing

@testable import Operators

@Suite struct RebatcherTests {
    let fields = [Field("id", .int64), Field("s", .string)]

    func batch(_ range: Range<Int>, operations: Bool = false) -> Batch {
        makeBatch(
            fields, range.map { [.int(Int64($0)), $0 % 5 == 0 ? .null : .string(String(repeating: "v", count: $0 % 7))] },
            operations: operations ? range.map { RowOperation(rawValue: UInt8($0 % 4))! } : nil)
    }

    func ids(_ batches: [Batch]) -> [Int64] {
        batches.flatMap { values($0, "id") }.map { if case .int(let v) = $0 { v } else { -1 } }
    }

    @Test func concatenatesSmallBatches() {
        var rebatcher = Rebatcher(targetRows: 64)
        var out: [Batch] = []
        for k in 0..<100 { out += rebatcher.push(batch(7 * k..<7 * k + 7, operations: true)) }
        #expect(out.count == 10)
        #expect(out.allSatisfy { $0.rowCount == 64 })
        #expect(rebatcher.bufferedRows == 60)
        if let rest = rebatcher.flush() { out.append(rest) }
        #expect(rebatcher.flush()?.rowCount == nil)
        #expect(ids(out) == (0..<700).map(Int64.init))
        #expect(out.flatMap { $0.operations! } == (0..<700).map { RowOperation(rawValue: UInt8($0 % 4))! })
        #expect(rows(Batch.concatenate(out)) == rows(batch(0..<700)))
    }

    @Test func slicesBigBatches() {
        var rebatcher = Rebatcher(targetRows: 300)
        let out = rebatcher.push(batch(0..<1000))
        #expect(out.map(\.rowCount) == [300, 300, 300])
        let rest = rebatcher.flush()
        #expect(rest?.rowCount == 100)
        #expect(ids(out + [rest!]) == (0..<1000).map(Int64.init))
    }

    @Test func respectsTheByteTarget() {
        let input = batch(0..<1000)
        let bytesPerRow = input.byteCount / input.rowCount
        var rebatcher = Rebatcher(targetRows: 1_000_000, targetBytes: bytesPerRow * 100)
        var out = rebatcher.push(input)
        #expect(out.count >= 9)
        #expect(out.allSatisfy { $0.rowCount >= 90 && $0.rowCount <= 110 })
        if let rest = rebatcher.flush() { out.append(rest) }
        #expect(ids(out) == (0..<1000).map(Int64.init))
    }

    @Test func aRowBiggerThanTheByteTargetStillPasses() {
        var rebatcher = Rebatcher(targetRows: 10, targetBytes: 1)
        let out = rebatcher.push(batch(0..<3))
        #expect(out.map(\.rowCount) == [1, 1, 1])
        #expect(rebatcher.flush()?.rowCount == nil)
    }

    @Test func aSchemaChangeFlushesFirst() {
        var rebatcher = Rebatcher(targetRows: 100)
        #expect(rebatcher.push(batch(0..<10)).isEmpty)
        let other = makeBatch([Field("x", .bool)], [[.bool(true)]])
        let out = rebatcher.push(other)
        #expect(out.map(\.rowCount) == [10])
        #expect(rebatcher.flush()?.schema == other.schema)
    }

    @Test func emptyBatchesAreIgnored() {
        var rebatcher = Rebatcher(targetRows: 2)
        #expect(rebatcher.push(batch(0..<0)).isEmpty)
        #expect(rebatcher.flush()?.rowCount == nil)
    }
}
