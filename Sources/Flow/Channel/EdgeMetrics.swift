import Synchronization

/// Counters of one graph edge, updated by its sender and receiver.
public final class EdgeMetrics: Sendable {
    public struct Snapshot: Sendable, Codable, Equatable {
        public var name: String
        public var batches: Int = 0
        public var rows: Int = 0
        public var bytes: Int = 0
        public var barriers: Int = 0
        /// Bytes sent but not yet received, now and at their peak.
        public var bufferedBytes: Int = 0
        public var peakBufferedBytes: Int = 0
        /// Time senders spent suspended because the channel was full.
        public var blockedNanoseconds: UInt64 = 0
        public var blockedSends: Int = 0
    }

    private let state: Mutex<Snapshot>
    public let name: String

    public init(name: String) {
        self.name = name
        self.state = Mutex(Snapshot(name: name))
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    func sent(_ message: FlowMessage) {
        state.withLock { s in
            switch message {
            case .batch(let b):
                s.batches += 1
                s.rows += b.rowCount
                s.bytes += b.byteCount
                s.bufferedBytes += b.byteCount
                s.peakBufferedBytes = max(s.peakBufferedBytes, s.bufferedBytes)
            case .barrier:
                s.barriers += 1
            }
        }
    }

    func received(_ message: FlowMessage) {
        let bytes = message.byteCount
        if bytes > 0 { state.withLock { $0.bufferedBytes -= bytes } }
    }

    func blocked(nanoseconds: UInt64) {
        state.withLock {
            $0.blockedNanoseconds += nanoseconds
            $0.blockedSends += 1
        }
    }
}
