import Synchronization

/// A request to finish a continuous run: set by SIGINT/SIGTERM or `--max-duration`. A continuous
/// source checks it between reads, emits a last checkpoint for what it read and returns normally,
/// so the run drains, publishes and commits before exiting (unlike task cancellation, which aborts).
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func stop() { flag.store(true, ordering: .relaxed) }

    public var isStopped: Bool { flag.load(ordering: .relaxed) }
}

/// How a continuous (`dpone stream`) source runs.
public struct ContinuousMode: Sendable {
    /// Seconds between checkpoints (a checkpoint is taken only when something was read since the last).
    public var checkpointInterval: Double
    public var stop: StopSignal

    public init(checkpointInterval: Double, stop: StopSignal) {
        self.checkpointInterval = checkpointInterval
        self.stop = stop
    }
}
