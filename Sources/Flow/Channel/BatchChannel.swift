import AsyncAlgorithms
import Dispatch
import Synchronization

/// A bounded, backpressured, single-producer single-consumer edge of the graph, built on
/// `MultiProducerSingleConsumerAsyncChannel` with a byte-weighted watermark.
public enum BatchChannel {
    typealias Underlying = MultiProducerSingleConsumerAsyncChannel<FlowMessage, any Error>

    /// Makes a channel; give the sender to the producer and the receiver to the consumer.
    public static func make(
        name: String, bounds: ChannelBounds = .default
    ) -> (sender: ChannelSender, receiver: ChannelReceiver) {
        let high = bounds.byteLimit
        let low = max(1, high / 2)
        var made = Underlying.makeChannel(
            of: FlowMessage.self,
            throwing: (any Error).self,
            backpressureStrategy: .watermark(low: low, high: high) { message in
                bounds.weight(message.byteCount)
            }
        )
        let metrics = EdgeMetrics(name: name)
        let receiver = ChannelReceiver(channel: made.takeChannel(), metrics: metrics)
        let sender = ChannelSender(source: SourceBox(source: made.source), metrics: metrics)
        return (sender, receiver)
    }
}

/// The producing end of a channel.
///
/// Contract: `send` suspends the calling task while the channel holds its byte bound and resumes once
/// the consumer drained it below half; `sendBlocking` does the same by blocking its (dedicated, non
/// cooperative) thread. Both throw if the consumer has gone (the graph was cancelled). `finish`
/// ends the stream; buffered messages are still delivered first.
public final class ChannelSender: Sendable {
    private let source: Mutex<SourceBox>
    public let metrics: EdgeMetrics

    init(source: consuming SourceBox, metrics: EdgeMetrics) {
        self.source = Mutex(source)
        self.metrics = metrics
    }

    /// Enqueues without waiting; returns a handle when the producer must wait for space.
    private func enqueue(
        _ message: FlowMessage
    ) throws -> BatchChannel.Underlying.Source.SendResult.CallbackHandle? {
        try source.withLock { box -> BatchChannel.Underlying.Source.SendResult.CallbackHandle? in
            guard box.source != nil else { throw DponeError(.internal, "send on a finished channel '\(metrics.name)'", context: [DponeError.consequenceKey: "true"]) }
            metrics.sent(message)
            let result = try box.source!.send(message)
            switch consume result {
            case .produceMore: return nil
            case .enqueueCallback(let handle): return handle
            }
        }
    }

    public func send(_ message: FlowMessage) async throws {
        guard var handle = try enqueue(message) else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { metrics.blocked(nanoseconds: DispatchTime.now().uptimeNanoseconds - start) }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                handle.enqueueCallback { result in continuation.resume(with: result) }
            }
        } onCancel: { [handle] in
            var h = handle
            h.cancelCallback()
        }
    }

    /// Blocking send for dedicated threads. MUST NOT be called from a Swift concurrency task.
    public func sendBlocking(_ message: FlowMessage) throws {
        guard var handle = try enqueue(message) else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { metrics.blocked(nanoseconds: DispatchTime.now().uptimeNanoseconds - start) }
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Void, any Error>>(.success(()))
        handle.enqueueCallback { result in
            outcome.withLock { $0 = result }
            semaphore.signal()
        }
        semaphore.wait()
        try outcome.withLock { try $0.get() }
    }

    /// Ends the stream, with an error when the producer failed.
    public func finish(throwing error: (any Error)? = nil) {
        source.withLock { $0.source.take()?.finish(throwing: error) }
    }
}

/// Holds the channel's `Source` (not Sendable, ~Copyable) inside the sender's Mutex: every access
/// goes through that lock.
struct SourceBox: ~Copyable, @unchecked Sendable {
    var source: BatchChannel.Underlying.Source?
    init(source: consuming BatchChannel.Underlying.Source) { self.source = .some(source) }
}

/// The consuming end of a channel. Exactly one task reads it.
public final class ChannelReceiver: @unchecked Sendable {
    // Only the single consuming task touches `channel`; that is the type's contract.
    private var channel: BatchChannel.Underlying?
    public let metrics: EdgeMetrics

    init(channel: consuming BatchChannel.Underlying, metrics: EdgeMetrics) {
        self.channel = .some(channel)
        self.metrics = metrics
    }

    /// The next message, or nil at end of stream. Rethrows the producer's failure. After `close()`
    /// it throws.
    public func next() async throws -> FlowMessage? {
        guard channel != nil else { throw DponeError(.internal, "receive on a closed channel '\(metrics.name)'", context: [DponeError.consequenceKey: "true"]) }
        guard let message = try await channel!.next(isolation: nil) else { return nil }
        metrics.received(message)
        return message
    }

    /// The consumer is done (it finished or failed): drops the channel, so a producer waiting for
    /// room, in `send` or `sendBlocking` on its dedicated thread, fails at once instead of waiting
    /// forever for a consumer that will never read again. Idempotent.
    public func close() {
        channel = nil
    }
}
