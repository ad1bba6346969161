import Foundation
import Testing

@testable import Flow

/// An actor whose executor is a `DedicatedThread` runs every method on that thread: blocking work
/// inside it (a file sink's writes and fsyncs) never occupies a cooperative thread, and its state is
/// isolated by the language.
@Suite struct DedicatedThreadExecutorTests {
    actor Pinned {
        let thread: DedicatedThread
        var calls = 0
        nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

        init(thread: DedicatedThread) { self.thread = thread }

        /// The OS thread this call runs on.
        func currentThread() -> UInt {
            calls += 1
            return UInt(bitPattern: Int(pthread_self()))
        }
    }

    @Test func anActorOnADedicatedThreadRunsThere() async throws {
        let thread = DedicatedThread(name: "dpone-test-pinned")
        defer { thread.stop() }
        let own = try await thread.run { UInt(bitPattern: Int(pthread_self())) }
        let pinned = Pinned(thread: thread)
        // Concurrent callers are serialised by the actor, each call on the thread.
        let threads = await withTaskGroup(of: UInt.self) { group in
            for _ in 0..<50 { group.addTask { await pinned.currentThread() } }
            return await group.reduce(into: Set<UInt>()) { $0.insert($1) }
        }
        #expect(threads == [own])
        #expect(await pinned.calls == 50)
    }
}
