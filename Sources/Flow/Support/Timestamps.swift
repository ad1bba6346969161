import Foundation

/// The one formatter of instants as text: ISO 8601 in UTC with microsecond-capable fractional
/// seconds (`2026-11-25T12:00:00.123Z`), as state documents, ledgers and SQL literals record them.
public enum Timestamps {
    public static func iso8601(_ date: Date = Date()) -> String {
        // ISO8601DateFormatter is thread-safe but costly to create; one per call site is what the
        // state and ledger paths (a few per checkpoint) can afford without shared mutable state.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
