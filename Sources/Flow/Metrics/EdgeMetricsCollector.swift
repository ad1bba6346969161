import Dispatch
import Synchronization

extension MetricsRegistry {
    /// Publishes the graph's edges at each render: the source's rows and bytes (totals and rows/s
    /// over the last second or more), and per edge the buffered bytes, the occupancy of its byte
    /// bound and the time its producer spent blocked (backpressure).
    public func collectEdges(_ edges: [EdgeMetrics], byteLimit: Int) {
        let rate = RateWindow()
        collect("edges") {
            let snapshots = edges.map(\.snapshot)
            guard let source = snapshots.first else { return [] }
            let edge = { (s: EdgeMetrics.Snapshot) in [("edge", s.name)] }
            return [
                ("dpone_source_rows_total", "Rows the source has emitted.", .counter, [Sample(value: Double(source.rows))]),
                ("dpone_source_bytes_total", "Bytes of the batches the source has emitted.", .counter, [Sample(value: Double(source.bytes))]),
                ("dpone_rows_per_second", "Source rows per second over the last second or more.", .gauge, [Sample(value: rate.update(rows: source.rows))]),
                (
                    "dpone_channel_buffered_bytes", "Bytes buffered in a channel between two operators.", .gauge,
                    snapshots.map { Sample(labels: edge($0), value: Double($0.bufferedBytes)) }
                ),
                (
                    "dpone_channel_occupancy_ratio", "Buffered bytes of a channel over its byte bound (1: the producer waits).", .gauge,
                    snapshots.map { Sample(labels: edge($0), value: byteLimit > 0 ? Double($0.bufferedBytes) / Double(byteLimit) : 0) }
                ),
                (
                    "dpone_channel_blocked_seconds_total", "Time producers spent waiting for room in a channel (backpressure).", .counter,
                    snapshots.map { Sample(labels: edge($0), value: Double($0.blockedNanoseconds) / 1e9) }
                ),
            ]
        }
    }
}

/// Rows per second between the last two updates at least a second apart.
final class RateWindow: Sendable {
    private struct State { var at: UInt64 = DispatchTime.now().uptimeNanoseconds, rows = 0, rate = 0.0 }
    private let state = Mutex(State())

    func update(rows: Int) -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        return state.withLock { s in
            let dt = Double(now - s.at) / 1e9
            if dt >= 1 {
                s.rate = Double(rows - s.rows) / dt
                s.at = now
                s.rows = rows
            }
            return s.rate
        }
    }
}
