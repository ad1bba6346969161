import Dispatch
import Flow
import Foundation
import Logging
import Manifest
import Operators
import ConnectorKit

/// Options of one `dpone batch` run.
public struct BatchOptions: Sendable {
    public var stateDirectory: String?
    public var progress: (@Sendable (ProgressSample) -> Void)?
    public var bounds: ChannelBounds
    /// `dpone stream`: read continuously, checkpointing every interval, until the stop signal.
    public var continuous: ContinuousMode?
    /// A pipeline that publishes at most one checkpoint ever (a backfill chunk): when its state, or
    /// failing that a sink's ledger, records a published checkpoint, the run reads nothing and
    /// returns `alreadyPublished`. Decided under the pipeline's run lock.
    public var publishOnce = false
    /// Without state, number checkpoints after this instead of from 1: pipelines that share a
    /// target (a backfill's chunks) then never tag rows with the same checkpoint, which a
    /// non-transactional sink uses to clean up after an unfinished attempt.
    public var firstCheckpointAfter: CheckpointID?
    /// Other pipelines publish into the same target meanwhile (a backfill's chunks): see
    /// `SinkRequest.targetShared`.
    public var targetShared = false

    public init(
        stateDirectory: String? = nil, progress: (@Sendable (ProgressSample) -> Void)? = nil,
        bounds: ChannelBounds = .default, continuous: ContinuousMode? = nil
    ) {
        self.stateDirectory = stateDirectory
        self.progress = progress
        self.bounds = bounds
        self.continuous = continuous
    }
}

/// `dpone batch`: builds the graph a manifest describes, runs it to its final checkpoint, and reports.
///
/// Order of effects: lock the pipeline, read the last durable state, stage, publish on the final
/// barrier, write the state, acknowledge the source. Any failure before the publish leaves the target
/// and the state as they were.
public enum BatchPipeline {
    static let logger = Logger(label: "dpone.batch")

    public static func run(document: ManifestDocument, options: BatchOptions) async -> RunResult {
        let runID = ULID.make()
        let loadID = ULID.make()
        let started = DispatchTime.now().uptimeNanoseconds
        var result = RunResult(
            status: .failed, pipeline: document.name, runID: runID, loadID: loadID,
            source: document.source.type.rawValue, sink: document.sink.type.rawValue,
            strategy: document.sink.strategy.mode.rawValue, extractedRows: 0, loadedRows: 0, insertedRows: 0,
            updatedRows: 0, deletedRows: 0, checkpoints: 0, durationSeconds: 0, rowsPerSecond: 0,
            megabytesPerSecond: 0, peakRSSBytes: 0, state: nil, error: nil, errorKind: nil)
        logger.info(
            "batch run started",
            metadata: [
                "pipeline": "\(document.name)", "run_id": "\(runID)", "load_id": "\(loadID)",
                "source": "\(document.source.type.rawValue)", "sink": "\(document.sink.type.rawValue)",
                "strategy": "\(document.sink.strategy.mode.rawValue)",
            ])
        var runCoordinator: CheckpointCoordinator?
        var runLock: RunLock?
        do {
            let lock = try await StateStores.lock(for: document, override: options.stateDirectory)
            runLock = lock
            let store = StateStores.make(for: document, override: options.stateDirectory)
            let previous = try await store.load(pipeline: document.name)

            let source = try ConnectorFactory.source(
                document.source, pipeline: document.name, continuous: options.continuous,
                keyColumns: document.sink.strategy.uniqueKey)
            let loadedAt = Int64(Date().timeIntervalSince1970 * 1_000_000)
            let graph: PipelineGraph
            if let keyed = source as? any KeyedRoutesSource, !document.source.options.routes.isEmpty {
                graph = PipelineGraph(
                    name: document.name, source: source,
                    routes: try await CDCRoutes.routes(document, source: keyed, loadID: loadID, loadedAt: loadedAt),
                    bounds: options.bounds)
            } else {
                var single = document
                if let keyed = source as? any KeyedRoutesSource {
                    single.sink = try await CDCRoutes.sinkWithIdentityKey(document, source: keyed)
                }
                var request = SinkRequest(
                    config: single.sink, pipeline: document.name, loadID: loadID, state: document.state,
                    changeData: source.emitsChangeData,
                    sourceRepeatsKeys: try ConnectorRegistry.descriptor(for: document.source.type, role: "source").sourceRepeatsKeys,
                    sourceEmitsDeletes: source.emitsDeletes)
                request.targetShared = options.targetShared
                let sink = try ConnectorFactory.sink(request)
                let transforms = try ConnectorFactory.transforms(single, loadID: loadID, loadedAt: loadedAt)
                graph = PipelineGraph(
                    name: document.name, source: source, transforms: transforms, sinks: [sink], bounds: options.bounds)
            }
            let sinkNames = graph.sinks.map(\.name)
            var resumeAfter = previous == nil ? options.firstCheckpointAfter ?? StateStores.resumePoint(store: store, previous: previous)
                : StateStores.resumePoint(store: store, previous: previous)
            var resumeFrom = previous?.source
            let published = previous == nil && !(store is DisabledStateStore) ? try await newestPublished(graph.sinks, pipeline: document.name) : nil
            if options.publishOnce, (previous?.checkpoint.rawValue ?? 0) > 0 || published != nil {
                result.status = .succeeded
                result.alreadyPublished = true
                result.state = previous
                logger.info(
                    "already published; nothing to do",
                    metadata: ["pipeline": "\(document.name)", "by": "\(previous != nil ? "state" : "sink ledger")"])
                await runLock?.release()
                runLock = nil
                return result
            }
            if let found = published {
                // The state is missing but a target records published checkpoints: numbering 1, 2, ...
                // again would match its ledger and be taken for replays that publish nothing.
                resumeAfter = found.checkpoint.id
                resumeFrom = found.checkpoint.positions
                result.recovery = StateRecovery(
                    checkpoint: found.checkpoint.id.rawValue, sink: found.sink, positionsRestored: found.checkpoint.positions != nil)
                logger.warning(
                    "the pipeline's state is missing; resuming after the newest published checkpoint",
                    metadata: [
                        "pipeline": "\(document.name)", "sink": "\(found.sink)", "checkpoint": "\(found.checkpoint.id)",
                        "positions_restored": "\(found.checkpoint.positions != nil)", "state": "\(store.location(pipeline: document.name))",
                    ])
            }
            let coordinator = CheckpointCoordinator(
                pipeline: document.name, sinks: sinkNames, store: store,
                resumingAfter: resumeAfter, loadID: loadID, runID: runID)
            runCoordinator = coordinator

            let ticker = ProgressTicker(callback: options.progress, started: started)
            let report = try await GraphRunner(graph: graph, coordinator: coordinator)
                .run(
                    resumeFrom: resumeFrom,
                    onEdges: { [bounds = options.bounds, routes = graph.routes.count] edges in
                        ticker.start(edges: Array(edges.prefix(routes)))
                        MetricsRegistry.shared.collectEdges(edges, byteLimit: bounds.byteLimit)
                    })
            ticker.stop()

            let commit = sinkNames.reduce(into: SinkCommit()) { total, name in
                let c = report.sinkCommits[name] ?? SinkCommit()
                total.inserted += c.inserted
                total.updated += c.updated
                total.deleted += c.deleted
            }
            result.status = .succeeded
            result.extractedRows = report.sourceRows
            result.loadedRows = report.loadedRows
            result.insertedRows = commit.inserted
            result.updatedRows = commit.updated
            result.deletedRows = commit.deleted
            let changes = sinkNames.flatMap { report.sinkCommits[$0]?.schemaChanges ?? [] }
            result.schemaChanges = changes.isEmpty ? nil : changes
            let reconciled = sinkNames.flatMap { report.sinkCommits[$0]?.reconciliation ?? [] }
            result.reconciliation = reconciled.isEmpty ? nil : reconciled
            result.checkpoints = report.committed.count
            result.state = report.committed.last
            result.edges = report.edges.map(RunResult.Edge.init)
            result.megabytesPerSecond = Double(report.sourceBytes) / 1_048_576
        } catch {
            let dpone = error as? DponeError
            result.error = dpone.map(\.description) ?? String(describing: error)
            result.errorKind = (dpone?.kind ?? .internal).rawValue
            result.transient = isTransientFailure(error)
            if let coordinator = runCoordinator {
                let committed = await coordinator.committed
                result.state = committed.last
                result.checkpoints = committed.count
            }
        }
        await runLock?.release()
        runLock = nil
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        result.durationSeconds = seconds
        result.rowsPerSecond = seconds > 0 ? Double(result.extractedRows) / seconds : 0
        result.megabytesPerSecond = seconds > 0 ? result.megabytesPerSecond / seconds : 0
        result.peakRSSBytes = ProcessMemory.peakRSSBytes()
        if result.status == .succeeded {
            logger.info(
                "batch run succeeded",
                metadata: [
                    "pipeline": "\(document.name)", "rows": "\(result.extractedRows)",
                    "checkpoint": "\(result.state.map { "\($0.checkpoint)" } ?? "none")",
                ])
        } else {
            logger.notice(
                "batch run failed",
                metadata: ["pipeline": "\(document.name)", "error": "\(result.error ?? "")"])
        }
        return result
    }
}

extension BatchPipeline {
    /// The result of a run refused before it started (nothing touched).
    static func refused(_ document: ManifestDocument, _ error: DponeError) -> RunResult {
        RunResult(
            status: .failed, pipeline: document.name, runID: ULID.make(), loadID: ULID.make(),
            source: document.source.type.rawValue, sink: document.sink.type.rawValue,
            strategy: document.sink.strategy.mode.rawValue, extractedRows: 0, loadedRows: 0, insertedRows: 0,
            updatedRows: 0, deletedRows: 0, checkpoints: 0, durationSeconds: 0, rowsPerSecond: 0,
            megabytesPerSecond: 0, peakRSSBytes: 0, state: nil, error: error.description, errorKind: error.kind.rawValue)
    }
}

/// Samples the source edge every 250 ms for the progress line.
final class ProgressTicker: Sendable {
    private let callback: (@Sendable (ProgressSample) -> Void)?
    private let started: UInt64
    private let task = LockedTask()

    init(callback: (@Sendable (ProgressSample) -> Void)?, started: UInt64) {
        self.callback = callback
        self.started = started
    }

    /// - Parameter edges: the source's edges (one per route).
    func start(edges: [EdgeMetrics]) {
        guard let callback, !edges.isEmpty else { return }
        let started = self.started
        task.set(
            Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let s = edges.map(\.snapshot)
                    callback(
                        ProgressSample(
                            rows: s.reduce(0) { $0 + $1.rows }, bytes: s.reduce(0) { $0 + $1.bytes },
                            elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9))
                }
            })
    }

    func stop() { task.cancel() }
}

import Synchronization

final class LockedTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)
    func set(_ t: Task<Void, Never>) { task.withLock { $0 = t } }
    func cancel() { task.withLock { $0?.cancel() } }
}

extension BatchPipeline {
    /// The newest checkpoint any sink's target records for `pipeline`, and which sink.
    static func newestPublished(_ sinks: [any SinkOperator], pipeline: String) async throws -> (checkpoint: PublishedCheckpoint, sink: String)? {
        var newest: (checkpoint: PublishedCheckpoint, sink: String)?
        for sink in sinks {
            guard let found = try await sink.newestPublished(pipeline: pipeline) else { continue }
            if newest.map({ found.id > $0.checkpoint.id }) ?? true { newest = (found, sink.name) }
        }
        return newest
    }
}
