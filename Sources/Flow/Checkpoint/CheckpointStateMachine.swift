/// The pure ordering rules of the checkpoint protocol, without I/O:
///
/// 1. a source injects barrier N with its positions;
/// 2. every sink finalizes (publishes) N;
/// 3. only then is the state for N written;
/// 4. only after the state is durable are the sources acknowledged.
///
/// Checkpoints complete in id order: the state of N+1 is never written before N is durable.
/// A sink failure aborts the checkpoint: no state is written for it or any later one.
public struct CheckpointStateMachine: Sendable {
    public enum Action: Equatable, Sendable {
        case none
        /// Write the state for this checkpoint with these source positions.
        case writeState(CheckpointID, positions: StateValue)
        /// Tell the sources this checkpoint is durable.
        case acknowledgeSources(CheckpointID)
    }

    enum Phase: Equatable, Sendable {
        case awaitingSinks(pending: Set<String>)
        case readyToWrite
        case writingState
        case awaitingSourceAck
    }

    struct Pending: Sendable {
        let id: CheckpointID
        var positions: StateValue
        var positionsReplaced = false
        var phase: Phase
    }

    public enum Violation: Error, Equatable, Sendable {
        case unknownCheckpoint(CheckpointID)
        case unknownSink(String)
        case outOfOrder(CheckpointID)
        case conflictingPositions(CheckpointID)
        case failed
    }

    private let sinks: Set<String>
    private var pending: [Pending] = []
    public private(set) var lastInjected: CheckpointID
    public private(set) var lastDurable: CheckpointID
    public private(set) var lastAcknowledged: CheckpointID
    public private(set) var failed = false

    /// - Parameter resumingAfter: the last durable checkpoint (0 on a first run).
    public init(sinks: Set<String>, resumingAfter durable: CheckpointID) {
        precondition(!sinks.isEmpty, "a pipeline has at least one sink")
        self.sinks = sinks
        self.lastInjected = durable
        self.lastDurable = durable
        self.lastAcknowledged = durable
    }

    /// A source injected the next barrier. Returns its id.
    public mutating func injectBarrier(positions: StateValue) throws(Violation) -> CheckpointID {
        guard !failed else { throw .failed }
        let id = lastInjected.next
        lastInjected = id
        pending.append(Pending(id: id, positions: positions, phase: .awaitingSinks(pending: sinks)))
        return id
    }

    /// The positions the source recorded for a pending checkpoint.
    public func positions(of id: CheckpointID) -> StateValue? {
        pending.first { $0.id == id }?.positions
    }

    /// A sink found `id` already published with `positions` (a replay): those are what the state must
    /// record. Two sinks disagreeing about them is a violation.
    public mutating func replacePositions(of id: CheckpointID, with positions: StateValue) throws(Violation) {
        guard let i = pending.firstIndex(where: { $0.id == id }) else { throw .unknownCheckpoint(id) }
        if pending[i].positionsReplaced && pending[i].positions != positions { throw .conflictingPositions(id) }
        pending[i].positions = positions
        pending[i].positionsReplaced = true
    }

    /// `sink` published checkpoint `id`.
    public mutating func sinkFinalized(_ sink: String, _ id: CheckpointID) throws(Violation) -> Action {
        guard !failed else { throw .failed }
        guard sinks.contains(sink) else { throw .unknownSink(sink) }
        guard let i = pending.firstIndex(where: { $0.id == id }) else { throw .unknownCheckpoint(id) }
        guard case .awaitingSinks(var waiting) = pending[i].phase, waiting.remove(sink) != nil else {
            throw .outOfOrder(id)
        }
        pending[i].phase = waiting.isEmpty ? .readyToWrite : .awaitingSinks(pending: waiting)
        return nextAction()
    }

    /// The state for `id` is durable.
    public mutating func stateDurable(_ id: CheckpointID) throws(Violation) -> Action {
        guard let first = pending.first, first.id == id, first.phase == .writingState else { throw .outOfOrder(id) }
        pending[0].phase = .awaitingSourceAck
        lastDurable = id
        return .acknowledgeSources(id)
    }

    /// The sources were told `id` is durable.
    public mutating func sourcesAcknowledged(_ id: CheckpointID) throws(Violation) -> Action {
        guard let first = pending.first, first.id == id, first.phase == .awaitingSourceAck else {
            throw .outOfOrder(id)
        }
        pending.removeFirst()
        lastAcknowledged = id
        return nextAction()
    }

    /// A sink or the state write failed: nothing more is written.
    public mutating func fail() {
        failed = true
    }

    /// True when every injected checkpoint is durable and acknowledged.
    public var isIdle: Bool { pending.isEmpty }

    /// The oldest checkpoint may be written once all sinks published it and nothing older is in flight.
    private mutating func nextAction() -> Action {
        guard !failed, let first = pending.first, first.phase == .readyToWrite else { return .none }
        pending[0].phase = .writingState
        return .writeState(first.id, positions: first.positions)
    }
}
