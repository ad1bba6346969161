import Flow
import Manifest
import Pipeline
import Testing

/// `mode: backfill`: the chunk plan (deterministic; half-open for dates and timestamps, inclusive for
/// integers) and its validation, which names the file, line and key.
@Suite struct BackfillPlanTests {
    func config(_ from: String, _ to: String, _ chunk: String, inner: LoadMode = .replace) -> BackfillConfig {
        var c = BackfillConfig(column: "day", from: from, to: to, chunk: chunk)
        c.innerMode = inner
        return c
    }

    @Test func integerChunksAreInclusiveAndCoverTheRangeOnce() throws {
        let plan = try BackfillPlan.make(config("1", "10", "3"))
        #expect(plan.domain == .integer)
        #expect(plan.chunks.map(\.range) == ["[1, 3]", "[4, 6]", "[7, 9]", "[10, 10]"])
        #expect(plan.predicate(plan.chunks[1]) == #""day" >= 4 AND "day" <= 6"#)
        let one = try BackfillPlan.make(config("5", "5", "1000"))
        #expect(one.chunks.map(\.range) == ["[5, 5]"])
    }

    @Test func dateChunksAreHalfOpenAndTheLastIsClipped() throws {
        let plan = try BackfillPlan.make(config("2026-01-01", "2026-01-08", "3 days"))
        #expect(plan.domain == .date)
        #expect(plan.chunks.map(\.range) == ["[2026-01-01, 2026-01-04)", "[2026-01-04, 2026-01-07)", "[2026-01-07, 2026-01-08)"])
        #expect(plan.predicate(plan.chunks[0]) == #""day" >= '2026-01-01' AND "day" < '2026-01-04'"#)
        let months = try BackfillPlan.make(config("2025-11-01", "2026-02-01", "1 month"))
        #expect(months.chunks.map(\.lower) == ["2025-11-01", "2025-12-01", "2026-01-01"])
        #expect(months.chunks.last?.upper == "2026-02-01")
    }

    @Test func timestampChunksTakeHours() throws {
        let plan = try BackfillPlan.make(config("2026-03-01 00:00:00", "2026-03-01T13:30:00Z", "6 hours"))
        #expect(plan.domain == .timestamp)
        #expect(plan.chunks.map(\.range) == [
            "[2026-03-01 00:00:00, 2026-03-01 06:00:00)", "[2026-03-01 06:00:00, 2026-03-01 12:00:00)",
            "[2026-03-01 12:00:00, 2026-03-01 13:30:00)",
        ])
        #expect(throws: DponeError.self) { try BackfillPlan.make(config("2026-03-01", "2026-03-02", "6 hours")) }
    }

    @Test func fullRefreshIsOneChunkOverTheWholeRange() throws {
        let plan = try BackfillPlan.make(config("2026-01-01", "2026-12-01", "", inner: .fullRefresh))
        #expect(plan.chunks.map(\.range) == ["[2026-01-01, 2026-12-01)"])
    }

    @Test func thePlanIsDeterministicAndItsDigestNamesIt() throws {
        let a = try BackfillPlan.make(config("1", "3000", "100"))
        let b = try BackfillPlan.make(config("1", "3000", "100"))
        let c = try BackfillPlan.make(config("1", "3000", "50"))
        #expect(a == b)
        #expect(a.digest == b.digest)
        #expect(a.digest != c.digest)
        #expect(a.chunks.count == 30)
        #expect(c.chunks.count == 60)
    }

    @Test func badRangesAndChunkSizesAreRefused() {
        for (from, to, chunk) in [("10", "1", "3"), ("1", "10", "0"), ("1", "10", "three"), ("2026-01-08", "2026-01-01", "1 day"),
                                  ("2026-01-01", "2026-01-08", "3 fortnights"), ("2026-02-30", "2026-03-08", "1 day"), ("1", "2026-01-01", "1 day"),
                                  ("1", "10000000", "1")]
        {
            #expect(throws: DponeError.self, "\(from) \(to) \(chunk)") { try BackfillPlan.make(config(from, to, chunk)) }
        }
    }

    static func manifest(_ strategy: String, sink: String = "postgres") -> String {
        """
        name: orders
        source: {type: postgres, connection: {url: "postgresql://u@127.0.0.1/db"}, table: {schema: public, name: src}}
        sink:
          type: \(sink)
          connection: {url: "\(sink == "postgres" ? "postgresql" : sink)://u@127.0.0.1/db"}
          table: {schema: public, name: dst}
          strategy:
            \(strategy)
        """
    }

    func errors(_ yaml: String) -> [ManifestError] {
        do {
            _ = try ManifestLoader.parse(yaml: yaml, path: "orders.yml", environment: [:])
            return []
        } catch {
            return error.errors
        }
    }

    func firstError(_ yaml: String) -> ManifestError? {
        do {
            _ = try ManifestLoader.parse(yaml: yaml, path: "orders.yml", environment: [:])
            return nil
        } catch {
            return error.first
        }
    }

    @Test func aBackfillManifestIsRead() throws {
        let doc = try ManifestLoader.parse(
            yaml: Self.manifest(
                "{mode: backfill, unique_key: id, backfill: {column: id, from: 1, to: 3000, chunk: 100, inner_mode: incremental_merge, parallel_workers: 2, id: first}}"),
            path: "orders.yml", environment: [:])
        let b = try #require(doc.sink.strategy.backfill)
        #expect(b.innerMode == .incrementalMerge)
        #expect(b.parallelWorkers == 2)
        #expect(b.id == "first")
        #expect(b.from == "1" && b.to == "3000" && b.chunk == "100")
        let chunk = try BackfillRunner.chunkDocument(doc, plan: try BackfillPlan.make(b), chunk: try BackfillPlan.make(b).chunks[2], config: b)
        #expect(chunk.name == "orders.bf-first.c00002")
        #expect(chunk.sink.strategy.mode == .incrementalMerge)
        #expect(chunk.source.options.customPredicate == #""id" >= 201 AND "id" <= 300"#)
    }

    @Test func anInnerReplaceRewritesTheChunkWindowQuotedForTheSink() throws {
        let doc = try ManifestLoader.parse(
            yaml: Self.manifest("{mode: backfill, backfill: {column: day, from: '2026-01-01', to: '2026-01-03', chunk: 1 day}}", sink: "bigquery")
                .replacingOccurrences(of: "bigquery://u@127.0.0.1/db", with: "bigquery://p")
                .replacingOccurrences(of: "table: {schema: public, name: dst}", with: "table: {schema: ds, name: dst}"),
            path: "orders.yml", environment: [:])
        let b = try #require(doc.sink.strategy.backfill)
        let plan = try BackfillPlan.make(b)
        let chunk = try BackfillRunner.chunkDocument(doc, plan: plan, chunk: plan.chunks[1], config: b)
        #expect(chunk.sink.strategy.mode == .replace)
        #expect(chunk.sink.strategy.customPredicate == "`day` >= '2026-01-02' AND `day` < '2026-01-03'")
        #expect(chunk.source.options.customPredicate == #""day" >= '2026-01-02' AND "day" < '2026-01-03'"#)
    }

    @Test func validationNamesTheFileLineAndKey() throws {
        let missing = try #require(firstError(Self.manifest("{mode: backfill}")))
        #expect(missing.file == "orders.yml")
        #expect(missing.message.contains("missing required key 'backfill'"), "\(missing)")
        let empty = try #require(firstError(Self.manifest("{mode: backfill, backfill: {column: id, from: 10, to: 1, chunk: 5}}")))
        #expect(empty.keyPath == "sink.strategy.backfill.from", "\(empty)")
        #expect(empty.line == 8)
        #expect(empty.message.contains("after to"))
        let size = try #require(firstError(Self.manifest("{mode: backfill, backfill: {column: d, from: '2026-01-01', to: '2026-02-01', chunk: 2 fortnights}}")))
        #expect(size.keyPath == "sink.strategy.backfill.chunk", "\(size)")
        let key = try #require(firstError(Self.manifest("{mode: backfill, backfill: {column: id, from: 1, to: 9, chunk: 3, inner_mode: incremental_merge}}")))
        #expect(key.message.contains("missing required key 'unique_key' (strategy mode 'incremental_merge'"), "\(key)")
        let inner = try #require(firstError(Self.manifest("{mode: backfill, backfill: {column: id, from: 1, to: 9, chunk: 3, inner_mode: scd2}}")))
        #expect(inner.keyPath == "sink.strategy.backfill.inner_mode", "\(inner)")
        let stray = try #require(firstError(Self.manifest("{mode: replace, custom_predicate: x, backfill: {column: id, from: 1, to: 9, chunk: 3}}")))
        #expect(stray.message.contains("applies only to strategy mode 'backfill'"), "\(stray)")
        let kafka = errors(Self.manifest("{mode: backfill, backfill: {column: id, from: 1, to: 9, chunk: 3}}", sink: "kafka"))
        #expect(kafka.contains { $0.message.contains("strategy mode 'backfill' is not supported by a kafka sink") }, "\(kafka)")
    }
}
