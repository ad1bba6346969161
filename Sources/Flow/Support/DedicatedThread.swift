import Foundation
import Synchronization

/// One OS thread that runs submitted work in order, off Swift's cooperative pool.
///
/// Blocking C calls (libpq, librdkafka polls, ODBC, curl easy, file fsync) run here so they never
/// occupy a cooperative thread. A connector typically owns one per connection. The thread also serves
/// as a `TaskExecutor`, so `withTaskExecutorPreference(thread) { ... }` runs a task's synchronous
/// parts on it. It is a `SerialExecutor` too: an actor whose `unownedExecutor` is the thread's runs
/// every method there, so blocking work inside it is isolated by the language and never blocks the
/// pool.
public final class DedicatedThread: TaskExecutor, SerialExecutor, Sendable {
    private struct Queue: ~Copyable {
        var jobs: [@Sendable () -> Void] = []
        var stopped = false
        var idle: IdleJob?
    }

    private struct IdleJob {
        var interval: Duration
        var job: @Sendable () -> Void
    }

    private let queue = Mutex(Queue())
    private let wakeup = DispatchSemaphore(value: 0)
    public let name: String

    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    private func loop() {
        var lastIdle = ContinuousClock.now
        while true {
            let idle = queue.withLock { $0.idle }
            if let idle {
                // A timeout consumes no signal, so every queued job still has its own wake-up.
                _ = wakeup.wait(timeout: .now() + Self.dispatchInterval(idle.interval - (ContinuousClock.now - lastIdle)))
                if ContinuousClock.now - lastIdle >= idle.interval {
                    idle.job()
                    lastIdle = .now
                }
            } else {
                wakeup.wait()
            }
            let next: (@Sendable () -> Void)? = queue.withLock { q in
                q.jobs.isEmpty ? nil : q.jobs.removeFirst()
            }
            if let next { next() } else if queue.withLock({ $0.stopped }) { return }
        }
    }

    private static func dispatchInterval(_ duration: Duration) -> DispatchTimeInterval {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return .nanoseconds(0) }
        return .nanoseconds(Int(min(seconds, 86_400)) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }

    /// Runs `job` on this thread between submitted jobs whenever `interval` passed since it last ran
    /// (at most that late while the thread is idle; after the current job while it is busy), until
    /// replaced or cleared with `nil`. It needs no cooperative thread: periodic protocol duties
    /// (a replication connection's status updates) keep their schedule while the pool is saturated.
    /// `job` must be short and must not capture an owner of this thread strongly.
    public func setIdleJob(every interval: Duration, _ job: (@Sendable () -> Void)?) {
        queue.withLock { q in q.idle = job.map { IdleJob(interval: interval, job: $0) } }
        wakeup.signal()  // re-arm the wait with the new interval; the empty wake-up is harmless
    }

    /// Queues `job`; it runs after every job submitted before it.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        let accepted = queue.withLock { q -> Bool in
            guard !q.stopped else { return false }
            q.jobs.append(job)
            return true
        }
        precondition(accepted, "submit on stopped thread \(name)")
        wakeup.signal()
    }

    /// Runs `body` on this thread and returns its result to the awaiting task.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Lets the thread exit once the jobs queued so far have run.
    public func stop() {
        queue.withLock { $0.stopped = true }
        wakeup.signal()
    }

    /// Runs a job of a task that prefers this thread, or of an actor it executes, here.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        submit { [self] in
            unowned.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor())
        }
    }

    /// A shared thread for short blocking file operations (state writes, fsync, directory sync).
    public static let fileIO = DedicatedThread(name: "dpone-file-io")

    /// Starts a new OS thread named `name` running `body` once, and suspends the caller until `body`
    /// returns or throws; the thread exits with it. For long blocking jobs (reading a whole file)
    /// that must not hold a shared `DedicatedThread` or a cooperative thread.
    ///
    /// Cancelling the calling task sets the flag passed to `body`; `body` MUST poll it between
    /// blocking steps and return (or throw, e.g. with `CancellationFlag.check(_:)`) promptly once it
    /// is set. The caller stays suspended until then.
    public static func runDetached<T: Sendable>(
        name: String, _ body: @escaping @Sendable (CancellationFlag) throws -> T
    ) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let thread = Thread {
                    continuation.resume(with: Result { try body(flag) })
                }
                thread.name = name
                thread.start()
            }
        } onCancel: {
            flag.cancel()
        }
    }
}

/// Set when the task awaiting a blocking job is cancelled; the job polls it between steps.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Throws `DponeError(.cancelled, "<what> was cancelled")` once cancelled.
    public func check(_ what: @autoclosure () -> String) throws {
        if isCancelled { throw DponeError(.cancelled, "\(what()) was cancelled") }
    }
}
