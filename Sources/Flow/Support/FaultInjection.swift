import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named crash points for replay tests. `DPONE_FAULT=<point>` makes the process SIGKILL itself when
/// it reaches that point, as a power cut would; a re-run must then neither lose nor double rows.
///
/// `DPONE_FAULT_AFTER=<n>` lets the point pass `n` times first, so a long-running `dpone stream`
/// dies at a later checkpoint (the first one of a Postgres CDC stream is its snapshot).
///
/// This is a testing facility: it is inert unless the variable is set.
public enum FaultPoint: String, Sendable, CaseIterable {
    /// Every batch of the checkpoint is staged; nothing is published.
    case afterStage = "after_stage"
    /// Inside a sink's finalizer, after its first publishing step.
    case midFinalize = "mid_finalize"
    /// Every sink published; the state is not yet written.
    case afterFinalizeBeforeState = "after_finalize_before_state"
    /// The state is durable; sources are not yet acknowledged.
    case afterStateBeforeAck = "after_state_before_ack"

    /// Kills the process if `DPONE_FAULT` names this point, after writing `reachedLine` to standard
    /// error (unbuffered), so a test can tell the fault from any other death.
    public func trigger() {
        guard let raw = getenv("DPONE_FAULT"), String(cString: raw) == rawValue else { return }
        let passes = getenv("DPONE_FAULT_AFTER").flatMap { Int(String(cString: $0)) } ?? 0
        guard Self.hits.add(1, ordering: .relaxed).newValue > passes else { return }
        let line = Array((reachedLine + "\n").utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        kill(getpid(), SIGKILL)
    }

    /// The line a process writes to standard error just before the fault kills it.
    public var reachedLine: String { "dpone: fault point \(rawValue) reached (DPONE_FAULT): killing the process" }

    private static let hits = Atomic<Int>(0)
}
