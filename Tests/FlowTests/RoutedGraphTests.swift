import Flow
import Foundation
import Synchronization
import Testing

/// A source with two outputs (two tables of one replication slot): `plan` lists, in send order,
/// the route of each batch; a checkpoint follows every `checkpointEvery` batches and the end. The
/// first checkpoint is a snapshot checkpoint when `snapshotFirst`.
final class TwoRouteSource: SourceOperator {
    let name = "two-routes"
    let plan: [Int]
    let rowsPerBatch: Int
    let padding = 100
    let checkpointEvery: Int
    let snapshotFirst: Bool
    let log: EventLog
    let sent = Mutex<[Int]>([0, 0])

    init(plan: [Int], rowsPerBatch: Int = 100, checkpointEvery: Int = .max, snapshotFirst: Bool = false, log: EventLog) {
        self.plan = plan
        self.rowsPerBatch = rowsPerBatch
        self.checkpointEvery = checkpointEvery
        self.snapshotFirst = snapshotFirst
        self.log = log
    }

    func outputSchema() async throws -> Schema { makeBatch(first: 0, rows: 0).schema }
    func outputSchemas() async throws -> [Schema] { [makeBatch(first: 0, rows: 0).schema, makeBatch(first: 0, rows: 0).schema] }

    func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        var next: Int64 = 0
        var checkpoints = 0
        let snapshotFirst = self.snapshotFirst
        func checkpoint() async throws {
            let positions = StateValue.object(["last_id": .int(next - 1)])
            let id =
                snapshotFirst && checkpoints == 0
                ? try await output.completeCheckpoint(positions: positions) : try await output.checkpoint(positions: positions)
            checkpoints += 1
            log.record("barrier \(id)")
        }
        for (i, route) in plan.enumerated() {
            try await output.send(makeBatch(first: next, rows: rowsPerBatch, padding: padding), route: route)
            sent.withLock { $0[route] += 1 }
            next += Int64(rowsPerBatch)
            if (i + 1) % checkpointEvery == 0 && i + 1 < plan.count { try await checkpoint() }
        }
        try await checkpoint()
    }

    func acknowledge(_ checkpoint: CheckpointID) async throws { log.record("ack \(checkpoint)") }
}

/// A sink whose writes wait until `open()` is called; records whether each checkpoint was a snapshot.
final class GatedSink: SinkOperator, Sendable {
    let name: String
    let log: EventLog
    private let gate = Atomic<Bool>(false)
    private let rows = Mutex<Int>(0)
    let snapshots = Mutex<[UInt64: Bool]>([:])
    let delay: Duration

    init(name: String, log: EventLog, open: Bool = false, delay: Duration = .zero) {
        self.name = name
        self.log = log
        self.delay = delay
        gate.store(open, ordering: .sequentiallyConsistent)
    }

    func release() { gate.store(true, ordering: .sequentiallyConsistent) }
    var stagedRows: Int { rows.withLock { $0 } }

    func open(schema: Schema) async throws {}

    func write(_ batch: Batch) async throws {
        while !gate.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(5)) }
        if delay > .zero { try await Task.sleep(for: delay) }
        rows.withLock { $0 += batch.rowCount }
    }

    func finalize(_ context: CheckpointContext) async throws -> SinkCommit {
        snapshots.withLock { $0[context.id.rawValue] = context.isComplete }
        log.record("finalize \(name) \(context.id)")
        return SinkCommit(inserted: rows.withLock { $0 })
    }

    func abort() async {}
}

@Suite struct RoutedGraphTests {
    func runner(_ source: TwoRouteSource, _ sinks: [GatedSink], store: RecordingStateStore, bounds: ChannelBounds) -> GraphRunner {
        GraphRunner(
            graph: PipelineGraph(
                name: "p", source: source,
                routes: sinks.enumerated().map { PipelineGraph.Route(name: "route\($0.offset)", sinks: [$0.element]) },
                bounds: bounds),
            coordinator: CheckpointCoordinator(
                pipeline: "p", sinks: sinks.map(\.name), store: store, resumingAfter: CheckpointID(0), loadID: "L", runID: "R"))
    }

    /// Polls `condition` (returns as soon as it holds; the deadline only bounds a stall, and is
    /// generous because the full suite keeps both cores busy).
    static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while !condition() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }

    /// A stalled table (its sink does not take rows) holds only its own channel: the busy table's
    /// rows all reach their sink meanwhile, and the state waits for both.
    @Test func aStalledRouteDoesNotStallTheOther() async throws {
        let log = EventLog()
        let store = RecordingStateStore(log: log)
        let fast = GatedSink(name: "fast", log: log, open: true)
        let slow = GatedSink(name: "slow", log: log)
        // 40 batches of the busy table, one of the quiet table after every ten.
        let plan = (0..<40).flatMap { $0 % 10 == 9 ? [0, 1] : [0] }
        let source = TwoRouteSource(plan: plan, log: log)
        let batchBytes = makeBatch(first: 0, rows: 100, padding: 100).byteCount
        let bounds = ChannelBounds(byteLimit: 4 * batchBytes, maxBatches: 64)
        let run = Task { try await runner(source, [fast, slow], store: store, bounds: bounds).run(resumeFrom: nil) }
        try await Self.waitUntil { fast.stagedRows == 4000 }
        #expect(fast.stagedRows == 4000, "every row of the busy table reached its sink while the other table's sink stalled")
        #expect(slow.stagedRows == 0)
        #expect(!log.all.contains { $0.hasPrefix("state") }, "no state while one table's sink has not published")
        slow.release()
        let report = try await run.value
        #expect(slow.stagedRows == 400)
        #expect(report.sourceRows == 4400)
        #expect(report.committed.map(\.checkpoint) == [CheckpointID(1)])
        #expect(log.all.filter { $0.hasPrefix("finalize") }.sorted() == ["finalize fast 1", "finalize slow 1"])
    }

    /// A stalled table with more rows than its channel holds stops the source at that channel's
    /// bound: memory stays bounded, and the other route gets what was read before it.
    @Test func aStalledRouteBackpressuresTheSourceAtItsBound() async throws {
        let log = EventLog()
        let store = RecordingStateStore(log: log)
        let fast = GatedSink(name: "fast", log: log, open: true)
        let slow = GatedSink(name: "slow", log: log)
        let plan = (0..<60).map { $0 % 2 }
        let source = TwoRouteSource(plan: plan, log: log)
        let batchBytes = makeBatch(first: 0, rows: 100, padding: 100).byteCount
        let bounds = ChannelBounds(byteLimit: 3 * batchBytes, maxBatches: 64)
        let run = Task { try await runner(source, [fast, slow], store: store, bounds: bounds).run(resumeFrom: nil) }
        try await Task.sleep(for: .milliseconds(300))
        let sentSlow = source.sent.withLock { $0[1] }
        // One batch in the sink's write, the channel's bound queued, and the one being sent.
        #expect(sentSlow <= 5, "the source stopped at the stalled route's bound (\(sentSlow) of 30 sent)")
        try await Self.waitUntil { fast.stagedRows >= (sentSlow - 1) * 100 }
        #expect(fast.stagedRows >= (sentSlow - 1) * 100, "the busy route got the rows read before the stall")
        #expect(source.sent.withLock { $0[1] } <= 5, "and the source is still held at the bound")
        slow.release()
        let report = try await run.value
        #expect(report.sourceRows == 6000)
        let slowEdge = try #require(report.edges.first { $0.name.hasPrefix("route1") })
        #expect(slowEdge.peakBufferedBytes <= bounds.byteLimit + batchBytes)
        #expect(slowEdge.blockedSends > 0)
    }

    /// With several sinks, none publishes checkpoint N+1 before N's state is durable, whatever their
    /// speeds; and only the snapshot checkpoint says it is one.
    @Test func sinksAlignOnEveryCheckpoint() async throws {
        let log = EventLog()
        let store = RecordingStateStore(log: log)
        let fast = GatedSink(name: "fast", log: log, open: true)
        let slow = GatedSink(name: "slow", log: log, open: true, delay: .milliseconds(15))
        let plan = (0..<40).map { $0 % 2 }
        let source = TwoRouteSource(plan: plan, rowsPerBatch: 10, checkpointEvery: 4, snapshotFirst: true, log: log)
        let run = Task {
            try await runner(source, [fast, slow], store: store, bounds: .default).run(resumeFrom: nil)
        }
        let report = try await run.value
        let events = log.all
        #expect(report.committed.count == 10)
        for n in 1..<10 {
            let state = try #require(events.firstIndex(of: "state \(n)"))
            for name in ["fast", "slow"] {
                let next = try #require(events.firstIndex(of: "finalize \(name) \(n + 1)"))
                #expect(state < next, "\(name) published \(n + 1) before the state of \(n) was durable: \(events)")
            }
        }
        #expect(fast.snapshots.withLock { $0 } == Dictionary(uniqueKeysWithValues: (1...10).map { (UInt64($0), $0 == 1) }))
        #expect(slow.snapshots.withLock { $0[1] } == true)
    }
}
