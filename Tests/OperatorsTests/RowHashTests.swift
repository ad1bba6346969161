import Flow
import Testing

@testable import Operators

@Suite struct RowHashTests {
    func hashes(_ batch: Batch, columns: [String]? = nil) throws -> [String] {
        let out = try RowHash(columns: columns).apply(batch)
        return values(out, TechnicalColumns.rowHash).map { if case .string(let s) = $0 { s } else { "" } }
    }

    @Test func matchesTheDocumentedEncoding() throws {
        // Expected digests computed independently (Python hashlib + struct) from ROW_HASH.md.
        let one = makeBatch([Field("x", .int32)], [[.int(1)]])
        #expect(try hashes(one) == ["f52f3a746c2545658e1c6add32e5410365553ebaaa0433f5f8bd90c6f85fd6e2"])
        let uuid: [UInt8] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF]
        let all = makeBatch(
            allTypeFields + [Field("n", .string)],
            [[
                .bool(true), .int(-2), .int(7), .int(-9_000_000_000), .float(1.5), .float(-0.0), .decimal(-1250, scale: 2),
                .string("héllo"), .bytes([0x00, 0xFF]), .date(19782), .time(3_723_000_001),
                .timestamp(1_700_000_000_123_456, withTimeZone: true), .uuid(uuid), .json("{\"a\":1}"), .null,
            ]])
        #expect(try hashes(all) == ["c9992cf2b23262e22f6cea644113fc64d1196e244c2e0616a3d1b408a963843b"])
    }

    @Test func appendsANonNullableHexColumn() throws {
        let batch = allTypeBatch(0..<50, operations: true)
        let out = try RowHash().apply(batch)
        #expect(out.schema.fields.last == Field(TechnicalColumns.rowHash, .string, nullable: false))
        #expect(out.operations == batch.operations)
        for h in try hashes(batch) {
            #expect(h.utf8.count == 64)
            #expect(h.allSatisfy { "0123456789abcdef".contains($0) })
        }
    }

    @Test func independentOfBatchBoundaries() throws {
        let whole = try hashes(allTypeBatch(0..<500))
        var pieces: [String] = []
        for range in [0..<1, 1..<64, 64..<65, 65..<300, 300..<500] { pieces += try hashes(allTypeBatch(range)) }
        #expect(pieces == whole)
        #expect(Set(whole).count == 500)
    }

    @Test func anyColumnChangeChangesTheHash() throws {
        let base: [Value] = [
            .bool(true), .int(1), .int(1), .int(1), .float(1), .float(1), .decimal(100, scale: 2), .string("a"),
            .bytes([1]), .date(1), .time(1), .timestamp(1, withTimeZone: true), .uuid(Array(repeating: 1, count: 16)),
            .json("1"),
        ]
        let other: [Value] = [
            .bool(false), .int(2), .int(2), .int(2), .float(2), .float(1.0000000000000002), .decimal(101, scale: 2),
            .string("b"), .bytes([1, 0]), .date(2), .time(2), .timestamp(2, withTimeZone: true),
            .uuid(Array(repeating: 1, count: 15) + [2]), .json("2"),
        ]
        var variants = [base]
        for k in base.indices {
            for replacement in [other[k], .null] {
                var changed = base
                changed[k] = replacement
                variants.append(changed)
            }
        }
        let h = try hashes(makeBatch(allTypeFields, variants))
        #expect(h.count == 1 + 2 * base.count)
        #expect(Set(h).count == h.count, "every single-column change gives a new hash")
    }

    @Test func nullAndEmptyStringDiffer() throws {
        let batch = makeBatch([Field("s", .string), Field("t", .string)], [
            [.null, .string("")], [.string(""), .null], [.string(""), .string("")], [.null, .null],
            [.string("ab"), .string("c")], [.string("a"), .string("bc")],
        ])
        let h = try hashes(batch)
        #expect(Set(h).count == 6)
    }

    @Test func wideningKeepsTheHash() throws {
        let narrow = makeBatch([Field("a", .int16), Field("f", .float32)], [[.int(-300), .float(1.5)], [.null, .float(.nan)]])
        let wide = makeBatch([Field("a", .int64), Field("f", .float64)], [[.int(-300), .float(1.5)], [.null, .float(-.nan)]])
        #expect(try hashes(narrow) == hashes(wide))
        let mid = makeBatch([Field("a", .int32), Field("f", .float64)], [[.int(-300), .float(1.5)], [.null, .float(Double(bitPattern: 0x7FF0_0000_0000_0001))]])
        #expect(try hashes(mid) == hashes(wide))
        let zeros = makeBatch([Field("f", .float64)], [[.float(0.0)], [.float(-0.0)]])
        let z = try hashes(zeros)
        #expect(z[0] == z[1])
    }

    @Test func businessColumnsExcludeDponeColumnsByDefault() throws {
        let batch = makeBatch([Field("a", .int64), Field("b", .string)], [[.int(1), .string("x")]])
        let lineage = try LineageColumns(loadID: ULID.make(), loadedAtMicroseconds: 7).apply(batch)
        #expect(try hashes(lineage) == hashes(batch))
        #expect(try hashes(batch, columns: ["a", "b"]) == hashes(batch))
        #expect(try hashes(batch, columns: ["b", "a"]) != hashes(batch))
        #expect(try hashes(batch, columns: ["a"]) != hashes(batch))
    }

    @Test func schemaErrors() {
        let schema = Schema([Field("a", .int64), Field(TechnicalColumns.rowHash, .string)])
        let existing = #expect(throws: DponeError.self) { try RowHash().outputSchema(for: schema) }
        #expect(existing?.kind == .schema)
        let unknown = #expect(throws: DponeError.self) { try RowHash(columns: ["zz"]).outputSchema(for: Schema([Field("a", .int64)])) }
        #expect(unknown?.message.contains("'zz'") == true)
    }

    @Test func hashesABigBatch() throws {
        let rowCount = 65_536
        var builder = BatchBuilder(schema: Schema([Field("id", .int64), Field("name", .string), Field("amount", .decimal(precision: 12, scale: 2))]))
        for i in 0..<rowCount {
            builder.columns[0].append(Int64(i))
            builder.columns[1].append(string: "customer-\(i)")
            builder.columns[2].append(Int128(i * 37))
        }
        let batch = builder.finish()
        let out = try RowHash().apply(batch)
        #expect(out.rowCount == rowCount)
        let h = values(out, TechnicalColumns.rowHash)
        #expect(Set(h).count == rowCount)
    }
}
