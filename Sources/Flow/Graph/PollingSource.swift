import Synchronization

/// `dpone stream` over a bounded, resumable source (a Postgres table read by xmin or cursor):
/// runs it, waits until its checkpoint is durable, sleeps `interval`, and runs it again from the
/// durable positions, until stopped.
///
/// Each round is one bounded read ending in one checkpoint. The next round resumes from the
/// positions the durable state holds for that checkpoint (`acknowledge(_:positions:)`), not from
/// what the round emitted: when a sink found the checkpoint already published (a replay after a
/// crash between publish and state), it is the published positions that count, so rows the replay
/// read past them are read again rather than skipped.
public final class PollingSource: SourceOperator {
    public let inner: any SourceOperator
    public let interval: Double
    public let mode: ContinuousMode

    /// Durable checkpoints as they are acknowledged, newest only (they only grow): what a round
    /// waits for before the next one starts.
    private let durable: AsyncStream<(id: CheckpointID, positions: StateValue)>
    private let durableContinuation: AsyncStream<(id: CheckpointID, positions: StateValue)>.Continuation

    public var name: String { inner.name }

    public init(_ inner: any SourceOperator, interval: Double, mode: ContinuousMode) {
        self.inner = inner
        self.interval = interval
        self.mode = mode
        (durable, durableContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func outputSchema() async throws -> Schema { try await inner.outputSchema() }

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        var positions = resumeFrom
        var durableCheckpoints = durable.makeAsyncIterator()
        while !mode.stop.isStopped {
            try Task.checkCancellation()
            let recorder = RecordingOutput(output)
            try await inner.run(into: recorder, resumeFrom: positions)
            if let emitted = recorder.lastCheckpoint {
                // The next round starts where the durable state is.
                while true {
                    guard let durable = await durableCheckpoints.next() else {
                        try Task.checkCancellation()
                        throw DponeError(.internal, "the durable checkpoints of \(name) ended")
                    }
                    if durable.id >= emitted {
                        positions = durable.positions
                        break
                    }
                }
            }
            var slept = 0.0
            while slept < interval, !mode.stop.isStopped {
                try await Task.sleep(for: .milliseconds(50))
                slept += 0.05
            }
        }
    }

    public func acknowledge(_ checkpoint: CheckpointID) async throws { try await inner.acknowledge(checkpoint) }

    public func acknowledge(_ checkpoint: CheckpointID, positions: StateValue) async throws {
        durableContinuation.yield((checkpoint, positions))
        try await inner.acknowledge(checkpoint, positions: positions)
    }
}

/// Passes everything through and remembers the last checkpoint's id.
final class RecordingOutput: SourceOutput {
    let output: any SourceOutput
    private let last = Mutex<CheckpointID?>(nil)
    var lastCheckpoint: CheckpointID? { last.withLock { $0 } }

    init(_ output: any SourceOutput) { self.output = output }

    func send(_ batch: Batch) async throws { try await output.send(batch) }
    func sendBlocking(_ batch: Batch) throws { try output.sendBlocking(batch) }
    func send(_ batch: Batch, route: Int) async throws { try await output.send(batch, route: route) }
    func sendBlocking(_ batch: Batch, route: Int) throws { try output.sendBlocking(batch, route: route) }

    @discardableResult
    func completeCheckpoint(positions: StateValue) async throws -> CheckpointID {
        remember(try await output.completeCheckpoint(positions: positions))
    }

    @discardableResult
    func completeCheckpointBlocking(positions: StateValue) throws -> CheckpointID {
        remember(try output.completeCheckpointBlocking(positions: positions))
    }

    @discardableResult
    func checkpoint(positions: StateValue) async throws -> CheckpointID {
        remember(try await output.checkpoint(positions: positions))
    }

    @discardableResult
    func checkpointBlocking(positions: StateValue) throws -> CheckpointID {
        remember(try output.checkpointBlocking(positions: positions))
    }

    private func remember(_ id: CheckpointID) -> CheckpointID {
        last.withLock { $0 = id }
        return id
    }
}
