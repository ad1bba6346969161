#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named crash points for replay tests. `DPONE_FAULT=<point>` makes the process SIGKILL itself when
/// it reaches that point, as a power cut would; a re-run must then neither lose nor double rows.
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

    /// Kills the process if `DPONE_FAULT` names this point.
    public func trigger() {
        guard let raw = getenv("DPONE_FAULT"), String(cString: raw) == rawValue else { return }
        kill(getpid(), SIGKILL)
    }
}
