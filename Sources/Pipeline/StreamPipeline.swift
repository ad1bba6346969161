import Flow
import Foundation
import Logging
import Manifest

/// Options of `dpone stream`.
public struct StreamOptions: Sendable {
    public var stateDirectory: String?
    /// Seconds between checkpoints (default 5).
    public var checkpointInterval: Double
    /// This process's name among the workers of the pipeline (default `0`). Workers of one pipeline
    /// share the Kafka consumer group; each keeps its own state and ledger identity
    /// (`<pipeline>@<worker>`), so their checkpoints never collide.
    public var worker: String
    public var stop: StopSignal
    /// Called about every 250 ms with the rows and bytes read so far (the status line).
    public var progress: (@Sendable (ProgressSample) -> Void)?

    public init(
        stateDirectory: String? = nil, checkpointInterval: Double = 5, worker: String = "0", stop: StopSignal = StopSignal(),
        progress: (@Sendable (ProgressSample) -> Void)? = nil
    ) {
        self.stateDirectory = stateDirectory
        self.checkpointInterval = checkpointInterval
        self.worker = worker
        self.stop = stop
        self.progress = progress
    }
}

/// `dpone stream`: the batch engine with a continuous source. The run checkpoints every interval
/// (publish, state, then acknowledge upstream) until `stop` is signalled, then finishes the current
/// checkpoint and returns.
public enum StreamPipeline {
    /// Load modes a continuous run can apply checkpoint after checkpoint.
    public static let streamModes: [LoadMode] = [.incrementalAppend, .incrementalMerge, .cdcApply]

    public static func run(document: ManifestDocument, options: StreamOptions) async -> RunResult {
        var doc = document
        guard streamModes.contains(document.sink.strategy.mode) else {
            return BatchPipeline.refused(
                document,
                DponeError(
                    .usage,
                    "strategy mode \(document.sink.strategy.mode.rawValue) rewrites the whole target or window: it cannot run continuously",
                    hint: "dpone stream applies incremental_append, incremental_merge or cdc_apply; use dpone batch for \(document.sink.strategy.mode.rawValue)"))
        }
        if let connector = try? ConnectorRegistry.descriptor(for: doc.source.type, role: "source") {
            doc.source = connector.forStream(doc.source, pipeline: document.name)
        }
        doc.name = "\(document.name)@\(options.worker)"
        let batchOptions = BatchOptions(
            stateDirectory: options.stateDirectory, progress: options.progress,
            continuous: ContinuousMode(checkpointInterval: options.checkpointInterval, stop: options.stop))
        return await retrying(document.retry, pipeline: doc.name, stop: options.stop) {
            await BatchPipeline.run(document: doc, options: batchOptions)
        }
    }

    static let logger = Logger(label: "dpone.stream")

    /// Runs `attempt` until it ends without a transient failure. After one, it waits (`policy`:
    /// from `initial`, doubling, at most `max`) and runs it again, which resumes from the last
    /// durable checkpoint; a committed checkpoint restarts the budget, and failures that go on for
    /// `max_elapsed` without one end the run with the last error. A stop ends the wait at once.
    /// `/metrics` shows `dpone_stream_retrying` (1 while waiting, with the error kind) and
    /// `dpone_stream_retries_total`.
    static func retrying(
        _ policy: RetryConfig, pipeline: String, stop: StopSignal, clock: ContinuousClock = ContinuousClock(),
        _ attempt: () async -> RunResult
    ) async -> RunResult {
        let metrics = MetricsRegistry.shared
        var delay = policy.initial
        var failingSince: ContinuousClock.Instant?
        var retries = 0
        var done: RunResult?
        while true {
            let attempt = await attempt()
            let progressed = attempt.checkpoints > 0
            // The result of the whole run: the last attempt's, with every attempt's counts.
            var result = attempt
            if let done {
                result.checkpoints += done.checkpoints
                result.extractedRows += done.extractedRows
                result.loadedRows += done.loadedRows
                result.insertedRows += done.insertedRows
                result.updatedRows += done.updatedRows
                result.deletedRows += done.deletedRows
                result.state = result.state ?? done.state
            }
            result.retries = retries > 0 ? retries : nil
            done = result
            guard result.status == .failed, result.transient == true, !stop.isStopped else { return result }
            if progressed {
                // Checkpoints were committed since the last failure: a fresh budget, the shortest wait.
                failingSince = nil
                delay = policy.initial
            }
            let now = clock.now
            if let since = failingSince, (now - since) > .seconds(policy.maxElapsed) {
                logger.error(
                    "giving up: failures went on for \(Int(policy.maxElapsed)) s without a checkpoint",
                    metadata: ["pipeline": "\(pipeline)", "retries": "\(retries)", "error": "\(result.error ?? "")"])
                metrics.set("dpone_stream_retrying", 0, labels: [("pipeline", pipeline)], help: "1 while dpone stream waits to retry")
                return result
            }
            failingSince = failingSince ?? now
            retries += 1
            logger.warning(
                "the run failed and will be retried from the last durable checkpoint",
                metadata: [
                    "pipeline": "\(pipeline)", "attempt": "\(retries)", "retry_in_seconds": "\(delay)",
                    "error_kind": "\(result.errorKind ?? "")", "error": "\(result.error ?? "")",
                ])
            metrics.add("dpone_stream_retries_total", labels: [("pipeline", pipeline)], help: "Attempts dpone stream retried after a transient failure")
            metrics.set(
                "dpone_stream_retrying", 1, labels: [("pipeline", pipeline)],
                help: "1 while dpone stream waits to retry after a transient failure")
            let wake = clock.now + .seconds(delay)
            // Short naps, so a stop ends the wait within 100 ms.
            while clock.now < wake, !stop.isStopped { try? await Task.sleep(for: min(.milliseconds(100), wake - clock.now)) }
            metrics.set("dpone_stream_retrying", 0, labels: [("pipeline", pipeline)], help: "1 while dpone stream waits to retry")
            if stop.isStopped { return result }
            delay = min(delay * 2, policy.max)
        }
    }
}
