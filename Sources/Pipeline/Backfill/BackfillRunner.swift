import ConnectorKit
import Dispatch
import Flow
import Foundation
import Logging
import Manifest

/// What a backfill run did to its chunks (`RunResult.backfill`).
public struct BackfillSummary: Sendable, Codable {
    public var id: String
    public var ledger: String
    public var chunks: Int
    /// Chunks published by this run's lanes.
    public var published: Int
    /// Chunks done before this run started (never redone).
    public var alreadyDone: Int
    /// Chunks this run found published already (a lane died after publishing) and only recorded.
    public var skippedAsPublished: Int
    /// Leases this run took over from dead or stalled lanes.
    public var takeovers: Int
    public var lanes: Int
    /// `chunk N [lo, hi): error`, for each chunk failed at the end of the run.
    public var failed: [String]
    /// Chunks neither done nor failed when the run ended (cancelled).
    public var remaining: Int

    enum CodingKeys: String, CodingKey {
        case id, ledger, chunks, published, takeovers, lanes, failed, remaining
        case alreadyDone = "already_done"
        case skippedAsPublished = "skipped_as_published"
    }

    public var line: String {
        "\(id): \(chunks) chunks; \(published) published now, \(alreadyDone) done before, \(skippedAsPublished) found published"
            + ", \(failed.count) failed, \(remaining) left; \(takeovers) lease takeovers; \(lanes) lanes; ledger \(ledger)"
    }
}

/// Runs `mode: backfill`: plans the chunks, then lanes claim them from the ledger and load each as
/// its own pipeline (`<name>.bf-<id>.c<NNNNN>`, with the inner mode and the chunk's window pushed to
/// the source) until none is left.
///
/// Exactly once per chunk:
/// - a chunk's pipeline publishes at most one checkpoint (`BatchOptions.publishOnce`): a chunk
///   claimed again after its lane died finds its state (or its sink's ledger row) and is only
///   recorded as done;
/// - two lanes never run one chunk at once: the chunk pipeline's run lock fences them, and the
///   ledger's token fences the outcome a lane whose lease was taken over may still report.
/// - a chunk is marked done only after its publication and its state are durable.
public enum BackfillRunner {
    static let logger = Logger(label: "dpone.backfill")

    /// The ledger a document's state store keeps (file state: a JSON file beside the state; postgres
    /// state: tables beside the state table, shared by every machine).
    public static func ledger(for document: ManifestDocument, override: String?) throws -> any BackfillLedger {
        guard let config = document.sink.strategy.backfill else {
            throw DponeError(.usage, "pipeline '\(document.name)' is not a backfill (sink.strategy.mode is \(document.sink.strategy.mode.rawValue))")
        }
        switch document.state.type {
        case .file:
            return FileBackfillLedger(directory: StateStores.directory(for: document, override: override), pipeline: document.name, id: config.id)
        case .disabled:
            throw DponeError(
                .usage, "a backfill needs a state store for its chunk ledger; this manifest disables state",
                hint: "remove `state: {type: disabled}` (a file store serves one machine)")
        default:
            guard let connector = ConnectorRegistry.stateStoreConnector(for: document.state.type),
                let ledger = try connector.backfillLedger(document, id: config.id)
            else {
                throw DponeError(
                    .usage, "a \(document.state.type.rawValue) state store keeps no backfill chunk ledger",
                    hint: "use `state: {type: postgres, ...}` for lanes on several machines, or `state: {type: file}` on one")
            }
            return ledger
        }
    }

    /// The plan and the digest of what the chunks are loaded with (source, sink, inner mode, keys);
    /// lanes and lease length are not part of it.
    public static func plan(_ document: ManifestDocument) throws -> (BackfillPlan, config: BackfillConfig, configDigest: String) {
        guard let config = document.sink.strategy.backfill else {
            throw DponeError(.usage, "pipeline '\(document.name)' is not a backfill (sink.strategy.mode is \(document.sink.strategy.mode.rawValue))")
        }
        let plan = try BackfillPlan.make(config)
        var frozen = document
        frozen.sink.strategy.backfill?.parallelWorkers = 1
        frozen.sink.strategy.backfill?.leaseSeconds = 0
        frozen.state = StateConfig()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(frozen), as: UTF8.self)
        return (plan, config, BackfillPlan.fnv1a(text))
    }

    /// The pipeline that loads one chunk.
    public static func chunkDocument(_ document: ManifestDocument, plan: BackfillPlan, chunk: BackfillChunk, config: BackfillConfig) throws -> ManifestDocument {
        var d = document
        d.name = chunkPipelineName(document.name, id: config.id, index: chunk.index)
        let window = plan.predicate(chunk)
        d.source.options.customPredicate = document.source.options.customPredicate.map { "(\($0)) AND \(window)" } ?? window
        d.sink.strategy.mode = config.innerMode
        d.sink.strategy.backfill = nil
        if config.innerMode == .replace {
            let sink = try ConnectorRegistry.descriptor(for: document.sink.type, role: "sink")
            d.sink.strategy.customPredicate = plan.predicate(chunk, quote: sink.sqlIdentifier)
        }
        return d
    }

    public static func chunkPipelineName(_ pipeline: String, id: String, index: Int) -> String {
        "\(pipeline).bf-\(id).c" + String(format: "%05d", index)
    }

    /// Runs the backfill until no chunk is left to claim (waiting for chunks other lanes hold).
    /// `onlyFailed`: `dpone backfill retry-failed`, which runs the failed chunks and nothing else.
    public static func run(
        document: ManifestDocument, options: BatchOptions, onlyFailed: Bool = false,
        onChunk: (@Sendable (String) -> Void)? = nil
    ) async -> RunResult {
        let started = DispatchTime.now().uptimeNanoseconds
        var result = RunResult(
            status: .failed, pipeline: document.name, runID: ULID.make(), loadID: ULID.make(),
            source: document.source.type.rawValue, sink: document.sink.type.rawValue,
            strategy: document.sink.strategy.mode.rawValue, extractedRows: 0, loadedRows: 0, insertedRows: 0,
            updatedRows: 0, deletedRows: 0, checkpoints: 0, durationSeconds: 0, rowsPerSecond: 0,
            megabytesPerSecond: 0, peakRSSBytes: 0, state: nil, error: nil, errorKind: nil)
        do {
            let (plan, config, configDigest) = try plan(document)
            let ledger = try ledger(for: document, override: options.stateDirectory)
            try await ledger.prepare(plan: plan, configDigest: configDigest)
            guard let before = try await ledger.snapshot() else { throw DponeError(.internal, "the backfill ledger vanished after prepare") }
            if before.cancelled {
                throw DponeError(
                    .state, "backfill '\(config.id)' of pipeline '\(document.name)' was cancelled",
                    hint: "set sink.strategy.backfill.id to a new id to start another backfill")
            }
            logger.info(
                "backfill started",
                metadata: [
                    "pipeline": "\(document.name)", "backfill": "\(config.id)", "chunks": "\(plan.chunks.count)",
                    "done_before": "\(before.count(.done))", "lanes": "\(config.parallelWorkers)", "ledger": "\(ledger.location)",
                ])
            let tally = BackfillTally()
            var laneOptions = options
            laneOptions.publishOnce = true
            laneOptions.targetShared = true
            laneOptions.progress = nil
            let chunkOptions = laneOptions
            await withTaskGroup(of: Void.self) { group in
                for lane in 0..<config.parallelWorkers {
                    group.addTask {
                        await runLane(
                            lane: lane, document: document, plan: plan, config: config, ledger: ledger, options: chunkOptions,
                            onlyFailed: onlyFailed, total: plan.chunks.count, started: started, tally: tally, onChunk: onChunk)
                    }
                }
            }
            guard let after = try await ledger.snapshot() else { throw DponeError(.internal, "the backfill ledger vanished") }
            let t = tally.value
            result.extractedRows = t.rows
            result.loadedRows = t.loaded
            result.insertedRows = t.inserted
            result.updatedRows = t.updated
            result.deletedRows = t.deleted
            result.checkpoints = t.published
            let failed = after.chunks.filter { $0.status == .failed }
            result.backfill = BackfillSummary(
                id: config.id, ledger: ledger.location, chunks: plan.chunks.count, published: t.published,
                alreadyDone: before.count(.done), skippedAsPublished: t.skipped, takeovers: t.takeovers, lanes: config.parallelWorkers,
                failed: failed.map { "chunk \($0.chunk.index) \($0.chunk.range): \($0.error ?? "unknown")" },
                remaining: after.chunks.count { $0.status != .done && $0.status != .failed })
            if let error = t.ledgerError { throw error }
            if after.count(.done) == plan.chunks.count {
                result.status = .succeeded
            } else if !failed.isEmpty {
                throw DponeError(
                    .sink, "\(failed.count) of \(plan.chunks.count) backfill chunks failed; first: chunk \(failed[0].chunk.index) \(failed[0].chunk.range): \(failed[0].error ?? "unknown")",
                    hint: "fix the cause, then `dpone backfill retry-failed MANIFEST` runs only the failed chunks")
            } else {
                throw DponeError(
                    .state, "backfill '\(config.id)' ended with \(plan.chunks.count - after.count(.done)) chunks not done (cancelled)",
                    hint: "`dpone backfill status MANIFEST` lists them")
            }
        } catch {
            let dpone = error as? DponeError
            result.error = dpone.map(\.description) ?? String(describing: error)
            result.errorKind = (dpone?.kind ?? .internal).rawValue
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        result.durationSeconds = seconds
        result.rowsPerSecond = seconds > 0 ? Double(result.extractedRows) / seconds : 0
        result.peakRSSBytes = ProcessMemory.peakRSSBytes()
        return result
    }

    /// One lane: claim, load, record; until nothing is left to claim and no other lane holds a chunk.
    static func runLane(
        lane: Int, document: ManifestDocument, plan: BackfillPlan, config: BackfillConfig, ledger: any BackfillLedger,
        options: BatchOptions, onlyFailed: Bool, total: Int, started: UInt64, tally: BackfillTally,
        onChunk: (@Sendable (String) -> Void)?
    ) async {
        let owner = BackfillOwner.make(lane: lane)
        do {
            guard let created = try await ledger.snapshot()?.createdAt else { return }
            let checkpointBase = UInt64(max(0, created * 1000)) * UInt64(BackfillPlan.maxChunks)
            while !Task.isCancelled {
                guard let claim = try await ledger.claim(owner: owner, leaseSeconds: config.leaseSeconds, onlyFailed: onlyFailed) else {
                    // Nothing to claim: wait while other lanes hold chunks (their leases may run out).
                    guard let s = try await ledger.snapshot(), !s.cancelled, s.chunks.contains(where: { $0.status == .running }) else { return }
                    try await Task.sleep(for: .milliseconds(500))
                    continue
                }
                let chunk = claim.record.chunk
                if let previous = claim.tookOverFrom {
                    tally.add { $0.takeovers += 1 }
                    logger.warning(
                        "took over a chunk whose lane stopped renewing its lease",
                        metadata: ["pipeline": "\(document.name)", "chunk": "\(chunk.index) \(chunk.range)", "from": "\(previous)", "lane": "\(owner)"])
                    onChunk?("backfill \(config.id): chunk \(chunk.index) \(chunk.range) taken over from \(previous)")
                }
                let heartbeat = Task {
                    let every = max(1, config.leaseSeconds / 3)
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(every))
                        if Task.isCancelled { return }
                        _ = try? await ledger.heartbeat(index: chunk.index, token: claim.token, leaseSeconds: config.leaseSeconds)
                    }
                }
                let chunkStarted = DispatchTime.now().uptimeNanoseconds
                // Each chunk's one checkpoint gets a number no other chunk, of this backfill or of
                // another one of the target, uses: ClickHouse and BigQuery sinks tag rows with it
                // and delete a tag's rows left by an unfinished attempt.
                var chunkOptions = options
                chunkOptions.firstCheckpointAfter = CheckpointID(checkpointBase + UInt64(chunk.index))
                let run: RunResult
                do {
                    run = await BatchPipeline.run(
                        document: try chunkDocument(document, plan: plan, chunk: chunk, config: config), options: chunkOptions)
                } catch {
                    run = BatchPipeline.refused(document, (error as? DponeError) ?? DponeError(.internal, "\(error)"))
                }
                heartbeat.cancel()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - chunkStarted) / 1e9
                let held: Bool
                if run.status == .succeeded {
                    let skipped = run.alreadyPublished == true
                    held = try await ledger.finish(index: chunk.index, token: claim.token, rows: run.loadedRows, skippedAsPublished: skipped)
                    if held {
                        tally.add {
                            if skipped { $0.skipped += 1 } else { $0.published += 1 }
                            $0.rows += run.extractedRows
                            $0.loaded += run.loadedRows
                            $0.inserted += run.insertedRows
                            $0.updated += run.updatedRows
                            $0.deleted += run.deletedRows
                        }
                        let done = (try? await ledger.snapshot())?.count(.done) ?? 0
                        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                        let line = "backfill \(config.id): chunk \(chunk.index) \(chunk.range) "
                            + (skipped ? "was already published" : "\(run.loadedRows) rows in \(String(format: "%.2f", seconds)) s")
                            + "; \(done)/\(total) done, \(String(format: "%.0f", elapsed)) s"
                        logger.info("\(line)", metadata: ["lane": "\(owner)"])
                        onChunk?(line)
                    }
                } else {
                    held = try await ledger.fail(index: chunk.index, token: claim.token, error: run.error ?? "unknown")
                    logger.notice(
                        "backfill chunk failed",
                        metadata: ["pipeline": "\(document.name)", "chunk": "\(chunk.index) \(chunk.range)", "error": "\(run.error ?? "")"])
                    onChunk?("backfill \(config.id): chunk \(chunk.index) \(chunk.range) failed: \(run.error ?? "unknown")")
                }
                if !held {
                    logger.warning(
                        "this lane was fenced off: another lane took the chunk over; its outcome is not recorded",
                        metadata: ["chunk": "\(chunk.index)", "lane": "\(owner)"])
                }
            }
        } catch {
            tally.add { $0.ledgerError = (error as? DponeError) ?? DponeError(.state, "the backfill ledger failed: \(error)") }
        }
    }
}

/// What the lanes of one run did.
final class BackfillTally: Sendable {
    struct Value {
        var published = 0, skipped = 0, takeovers = 0
        var rows = 0, loaded = 0, inserted = 0, updated = 0, deleted = 0
        var ledgerError: DponeError?
    }

    private let state = Mutex(Value())
    var value: Value { state.withLock { $0 } }
    func add(_ change: (inout Value) -> Void) { state.withLock { change(&$0) } }
}

import Synchronization
