import Dispatch
import Foundation

/// Drives `CheckpointStateMachine` and performs its actions: writes state through the `StateStore`
/// and acknowledges sources. The one place that decides when state is written.
public actor CheckpointCoordinator {
    private var machine: CheckpointStateMachine
    private let store: any StateStore
    private let pipeline: String
    private let loadID: String
    private let runID: String
    private var sources: [any SourceOperator] = []
    public private(set) var committed: [PipelineState] = []
    public private(set) var sinkCommits: [String: SinkCommit] = [:]
    /// When each pending checkpoint's barrier was injected (uptime ns), for the duration metric.
    private var injectedAt: [CheckpointID: UInt64] = [:]
    private let metrics: MetricsRegistry
    /// Sinks that published a checkpoint and wait until its state is durable (`awaitDurable`).
    private var durableWaiters: [(id: CheckpointID, token: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextWaiterToken: UInt64 = 0
    /// Pending checkpoints that carry a complete copy of the source.
    private var completes: Set<CheckpointID> = []
    /// Pending checkpoints whose state a sink wrote with its publication (`SinkCommit.stateCommitted`).
    private var committedBySink: Set<CheckpointID> = []
    /// Durable checkpoints whose sources are still to be acknowledged, in order, consumed by
    /// `runAcknowledgements` (the coordinator's own task): a sink never waits on an upstream commit.
    /// At most one entry per pending checkpoint, which the channels' barriers bound.
    private let acknowledgements: AsyncStream<CheckpointID>
    private let acknowledgementQueue: AsyncStream<CheckpointID>.Continuation
    /// Sinks still running; the acknowledgements end after the last one finished.
    private var runningSinks: Int

    public init(
        pipeline: String, sinks: [String], store: any StateStore, resumingAfter durable: CheckpointID,
        loadID: String, runID: String, metrics: MetricsRegistry = .shared
    ) {
        self.metrics = metrics
        self.machine = CheckpointStateMachine(sinks: Set(sinks), resumingAfter: durable)
        (acknowledgements, acknowledgementQueue) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        runningSinks = Set(sinks).count
        self.store = store
        self.pipeline = pipeline
        self.loadID = loadID
        self.runID = runID
    }

    public func register(source: any SourceOperator) { sources.append(source) }

    /// The last checkpoint whose state is durable.
    public var lastDurable: CheckpointID { machine.lastDurable }
    public var lastAcknowledged: CheckpointID { machine.lastAcknowledged }

    /// - Parameter complete: the checkpoint's batches are a complete copy of the source
    ///   (`CheckpointContext.isComplete`).
    public func injectBarrier(positions: StateValue, complete: Bool = false) throws -> CheckpointID {
        do {
            let id = try machine.injectBarrier(positions: positions)
            injectedAt[id] = DispatchTime.now().uptimeNanoseconds
            if complete { completes.insert(id) }
            return id
        } catch {
            throw DponeError(
                .checkpoint, "cannot start a checkpoint after a failure", context: ["pipeline": pipeline, DponeError.consequenceKey: "true"])
        }
    }

    /// Records that `sink` published `id`; when it was the last sink, writes the state before
    /// returning. The sources are acknowledged afterwards by `runAcknowledgements`.
    public func sinkFinalized(_ sink: String, _ id: CheckpointID, commit: SinkCommit) async throws {
        var total = sinkCommits[sink] ?? SinkCommit()
        total.inserted += commit.inserted
        total.updated += commit.updated
        total.deleted += commit.deleted
        total.schemaChanges += commit.schemaChanges
        total.reconciliation += commit.reconciliation
        // A stream publishes forever: the report keeps the latest lines.
        if total.reconciliation.count > 100 { total.reconciliation.removeFirst(total.reconciliation.count - 100) }
        sinkCommits[sink] = total
        if commit.stateCommitted { committedBySink.insert(id) }
        if let published = commit.publishedPositions {
            _ = try step { m in
                try m.replacePositions(of: id, with: published)
                return .none
            }
        }
        try await perform(try step { try $0.sinkFinalized(sink, id) })
    }

    /// `sink` has no more checkpoints to publish (its input ended). After the last sink, the
    /// acknowledgements end once the queued ones are done.
    public func sinkFinished(_ sink: String) {
        runningSinks -= 1
        if runningSinks <= 0 { acknowledgementQueue.finish() }
    }

    /// Acknowledges the sources of each durable checkpoint, in order, until every sink finished or
    /// the run failed; the graph runner runs it as a task of its own. After an acknowledgement the
    /// next checkpoint's state may become writable, and is written here.
    /// - Throws: a source's acknowledgement failure (the run then fails: its positions stay
    ///   unacknowledged and the next run re-reads them).
    public func runAcknowledgements() async throws {
        for await checkpoint in acknowledgements {
            FaultPoint.afterStateBeforeAck.trigger()
            // The positions made durable (a replayed checkpoint's are the ledger's, not the re-read ones).
            let durable = committed.last { $0.checkpoint == checkpoint }?.source ?? .null
            do {
                for source in sources { try await source.acknowledge(checkpoint, positions: durable) }
            } catch {
                fail()
                throw error
            }
            try await perform(try step { try $0.sourcesAcknowledged(checkpoint) })
        }
    }

    /// Performs the machine's actions until it has none: writes state, queues acknowledgements.
    private func perform(_ first: CheckpointStateMachine.Action) async throws {
        var action = first
        while action != .none {
            switch action {
            case .none:
                break
            case .writeState(let checkpoint, let positions):
                FaultPoint.afterFinalizeBeforeState.trigger()
                let state = PipelineState(
                    pipeline: pipeline, checkpoint: checkpoint, source: positions, loadID: loadID, runID: runID,
                    committedAt: Timestamps.iso8601())
                // A target-atomic sink committed it with the data: durable already.
                if !committedBySink.contains(checkpoint) {
                    do {
                        try await store.commit(state)
                    } catch {
                        fail()
                        throw error
                    }
                }
                committed.append(state)
                completes = completes.filter { $0 > checkpoint }
                committedBySink = committedBySink.filter { $0 > checkpoint }
                recordDurable(checkpoint)
                action = try step { try $0.stateDurable(checkpoint) }
                resumeWaiters()
            case .acknowledgeSources(let checkpoint):
                acknowledgementQueue.yield(checkpoint)
                action = .none
            }
        }
    }

    /// Returns once the state of checkpoint `id` is durable. A sink calls it after it published `id`,
    /// so that with several sinks none publishes `id + 1` while another has not published `id`: a
    /// replay after a crash is then, for every sink, of its newest publication at most. Throws when
    /// the run failed or the task is cancelled.
    public func awaitDurable(_ id: CheckpointID) async throws {
        if machine.lastDurable >= id { return }
        if machine.failed { throw DponeError(.checkpoint, "the run failed before checkpoint \(id) became durable") }
        nextWaiterToken += 1
        let token = nextWaiterToken
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                // Cancelled before the wait began: the handler's hop may already have run.
                if Task.isCancelled {
                    c.resume(throwing: CancellationError())
                } else {
                    durableWaiters.append((id, token, c))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(token) }
        }
    }

    private func cancelWaiter(_ token: UInt64) {
        guard let i = durableWaiters.firstIndex(where: { $0.token == token }) else { return }
        durableWaiters.remove(at: i).continuation.resume(throwing: CancellationError())
    }

    private func resumeWaiters() {
        let durable = machine.lastDurable
        let failed = machine.failed
        var waiting: [(id: CheckpointID, token: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        for w in durableWaiters {
            if w.id <= durable {
                w.continuation.resume()
            } else if failed {
                w.continuation.resume(throwing: DponeError(.checkpoint, "the run failed before checkpoint \(w.id) became durable"))
            } else {
                waiting.append(w)
            }
        }
        durableWaiters = waiting
    }

    /// Checkpoint metrics: count, barrier-to-durable-state duration (histogram and last), time.
    private func recordDurable(_ checkpoint: CheckpointID) {
        metrics.add("dpone_checkpoints_total", help: "Checkpoints whose state is durable.")
        metrics.set(
            "dpone_last_checkpoint_timestamp_seconds", Date().timeIntervalSince1970,
            help: "Unix time at which the last checkpoint's state became durable.")
        guard let start = injectedAt.removeValue(forKey: checkpoint) else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        metrics.observe(
            "dpone_checkpoint_duration_seconds", seconds,
            help: "From a checkpoint's barrier to its durable state: every sink published, state written.")
        metrics.set("dpone_last_checkpoint_duration_seconds", seconds, help: "Duration of the last durable checkpoint.")
    }

    /// What a sink needs to publish checkpoint `id`.
    public func context(for id: CheckpointID) throws -> CheckpointContext {
        guard let positions = machine.positions(of: id) else {
            throw DponeError(.checkpoint, "checkpoint \(id) is not pending", context: ["pipeline": pipeline])
        }
        return CheckpointContext(
            id: id, pipeline: pipeline, positions: positions, loadID: loadID, runID: runID, isComplete: completes.contains(id))
    }

    /// A sink failed to finalize: no further state is written in this run, and nothing more is
    /// acknowledged.
    public func fail() {
        machine.fail()
        resumeWaiters()
        acknowledgementQueue.finish()
    }

    private func step(
        _ transition: (inout CheckpointStateMachine) throws -> CheckpointStateMachine.Action
    ) throws -> CheckpointStateMachine.Action {
        do {
            return try transition(&machine)
        } catch {
            fail()
            throw DponeError(.checkpoint, "checkpoint protocol violated: \(error)", context: ["pipeline": pipeline])
        }
    }
}
