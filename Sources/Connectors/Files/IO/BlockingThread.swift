import Flow
import Foundation
import Synchronization

/// Set when the async task waiting on a blocking job is cancelled; the job polls it between steps.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    init() {}

    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Throws `DponeError(.cancelled)` once cancelled.
    func check(_ what: String) throws {
        if isCancelled { throw DponeError(.cancelled, "\(what) was cancelled") }
    }
}

/// Runs blocking work (file reads, `sendBlocking`) on a dedicated thread, never on the cooperative pool.
enum BlockingThread {
    /// Starts a new thread running `body` and suspends the caller until `body` returns or throws.
    ///
    /// Cancelling the calling task sets the flag passed to `body`; `body` MUST poll it between
    /// blocking steps and return (or throw) promptly once it is set.
    static func run<T: Sendable>(
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
