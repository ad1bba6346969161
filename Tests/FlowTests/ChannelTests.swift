import Flow
import Foundation
import Synchronization
import Testing

@Suite struct ChannelTests {
    /// A slow consumer suspends the producer: buffered bytes stay within the bound (plus the one
    /// batch that crossed it) and the producer spends time blocked.
    @Test func slowConsumerSuspendsTheProducerAndBytesStayBounded() async throws {
        let batch = makeBatch(first: 0, rows: 1000, padding: 1000)  // ~1 MB
        let bounds = ChannelBounds(byteLimit: 4 * batch.byteCount, maxBatches: 100)
        let (sender, receiver) = BatchChannel.make(name: "test", bounds: bounds)
        let sent = Mutex(0)
        let maxAheadOfConsumer = Mutex(0)
        let received = Mutex(0)

        async let producing: Void = {
            for _ in 0..<40 {
                try await sender.send(.batch(batch))
                let ahead = sent.withLock { s in s += 1; return s } - received.withLock { $0 }
                maxAheadOfConsumer.withLock { $0 = max($0, ahead) }
            }
            sender.finish()
        }()
        var count = 0
        while let message = try await receiver.next() {
            if case .batch = message { count += 1 }
            received.withLock { $0 += 1 }
            try await Task.sleep(for: .milliseconds(5))
        }
        try await producing

        let m = sender.metrics.snapshot
        #expect(count == 40)
        #expect(m.batches == 40 && m.rows == 40_000)
        #expect(m.peakBufferedBytes <= bounds.byteLimit + batch.byteCount)
        #expect(m.peakBufferedBytes >= bounds.byteLimit, "the channel filled up")
        #expect(m.blockedSends > 0 && m.blockedNanoseconds > 0, "the producer was suspended")
        #expect(maxAheadOfConsumer.withLock { $0 } <= 6, "the producer never ran far ahead")
        #expect(m.bufferedBytes == 0)
    }

    /// The batch-count cap bounds tiny batches too.
    @Test func batchCountCapBoundsSmallBatches() async throws {
        let small = makeBatch(first: 0, rows: 1)
        let (sender, receiver) = BatchChannel.make(name: "cap", bounds: ChannelBounds(byteLimit: 1 << 20, maxBatches: 4))
        let sent = Mutex(0)
        let producer = Task {
            for _ in 0..<20 {
                try await sender.send(.batch(small))
                sent.withLock { $0 += 1 }
            }
            sender.finish()
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(sent.withLock { $0 } <= 5, "a full channel of 4 small batches suspends the sender")
        var n = 0
        while try await receiver.next() != nil { n += 1 }
        try await producer.value
        #expect(n == 20)
    }

    /// The synchronous path blocks a dedicated thread, not a task, and unblocks as the consumer drains.
    @Test func sendBlockingFromADedicatedThread() async throws {
        let batch = makeBatch(first: 0, rows: 1000, padding: 100)
        let (sender, receiver) = BatchChannel.make(
            name: "sync", bounds: ChannelBounds(byteLimit: 2 * batch.byteCount, maxBatches: 64))
        let thread = DedicatedThread(name: "producer")
        let done = Task {
            try await thread.run {
                for _ in 0..<30 { try sender.sendBlocking(.batch(batch)) }
                sender.finish()
            }
        }
        var rows = 0
        while let message = try await receiver.next() {
            if case .batch(let b) = message { rows += b.rowCount }
            try await Task.sleep(for: .milliseconds(2))
        }
        try await done.value
        thread.stop()
        #expect(rows == 30_000)
        #expect(sender.metrics.snapshot.blockedSends > 0)
        #expect(sender.metrics.snapshot.peakBufferedBytes <= 3 * batch.byteCount)
    }

    @Test func aFailedProducerFailsTheConsumer() async throws {
        let (sender, receiver) = BatchChannel.make(name: "fail")
        try await sender.send(.batch(makeBatch(first: 0, rows: 3)))
        sender.finish(throwing: DponeError(.source, "boom"))
        let first = try await receiver.next()
        #expect(first != nil, "buffered data is delivered before the failure")
        await #expect(throws: DponeError.self) { _ = try await receiver.next() }
    }

    @Test func aGoneConsumerFailsABlockedProducer() async throws {
        let batch = makeBatch(first: 0, rows: 100, padding: 100)
        var pair: (sender: ChannelSender, receiver: ChannelReceiver)? = BatchChannel.make(
            name: "gone", bounds: ChannelBounds(byteLimit: batch.byteCount, maxBatches: 2))
        let sender = pair!.sender
        let producer = Task {
            for _ in 0..<10 { try await sender.send(.batch(batch)) }
        }
        try await Task.sleep(for: .milliseconds(50))
        pair = nil  // drops the receiver
        await #expect(throws: (any Error).self) { try await producer.value }
    }
}
