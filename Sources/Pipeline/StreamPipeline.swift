import Flow
import Foundation
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
        return await BatchPipeline.run(
            document: doc,
            options: BatchOptions(
                stateDirectory: options.stateDirectory, progress: options.progress,
                continuous: ContinuousMode(checkpointInterval: options.checkpointInterval, stop: options.stop)))
    }
}
