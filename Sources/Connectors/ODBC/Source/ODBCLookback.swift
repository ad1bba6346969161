import Flow
import Foundation

/// `lookback` for an ODBC cursor, computed in Swift so it means the same on every DBMS: the next
/// run reads `column > stored - lookback` (re-read rows are deduplicated by an incremental_merge).
///
/// - integer cursors take a count (`1000`);
/// - date cursors take days (`7`, `7 days`);
/// - timestamp cursors take a duration (`90`, seconds, or `10 minutes`, `2 hours`, `1 day`).
enum ODBCLookback {
    /// The lower bound's text for `stored` on a cursor of `type`, or a clear error.
    static func lowerBound(stored: String, lookback: String, type: LogicalType, column: String) throws -> String {
        let text = lookback.trimmingCharacters(in: CharacterSet(charactersIn: "' "))
        func fail(_ why: String) -> DponeError {
            DponeError(
                .manifest, "lookback '\(lookback)' does not fit the cursor column \(column) (\(type)): \(why)",
                hint: "an integer cursor takes a count (1000), a date cursor days (7 days), a timestamp cursor a duration (10 minutes)")
        }
        switch type {
        case .int16, .int32, .int64:
            guard let n = Int64(text), n >= 0 else { throw fail("expected a whole number") }
            guard let value = Int64(stored) else { throw fail("the stored cursor '\(stored)' is not an integer") }
            return String(value - n)
        case .date:
            guard let days = try duration(text, unit: 86_400_000_000).map({ $0 / 86_400_000_000 }) else { throw fail("expected days") }
            let bytes = Array(stored.utf8)
            guard let value = bytes.withUnsafeBytes({ ScalarParsing.date($0) }) else { throw fail("the stored cursor '\(stored)' is not a date") }
            var out: [UInt8] = []
            ScalarFormatting.appendDate(days: value - Int32(days), to: &out)
            return String(decoding: out, as: UTF8.self)
        case .timestamp(let zone):
            guard let micros = try duration(text, unit: 1_000_000) else { throw fail("expected a duration") }
            let bytes = Array(stored.utf8)
            guard let value = bytes.withUnsafeBytes({ ScalarParsing.timestamp($0) }) else {
                throw fail("the stored cursor '\(stored)' is not a timestamp")
            }
            var out: [UInt8] = []
            ScalarFormatting.appendTimestamp(micros: value.micros - micros, withTimeZone: zone, to: &out)
            return String(decoding: out, as: UTF8.self)
        default:
            throw fail("a lookback needs an integer, date or timestamp cursor")
        }
    }

    /// `N` (in `unit` microseconds) or `N seconds|minutes|hours|days`, in microseconds; nil when invalid.
    static func duration(_ text: String, unit: Int64) throws -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = parts.first, let n = Int64(first), n >= 0, parts.count <= 2 else { return nil }
        guard parts.count == 2 else { return n * unit }
        let units: [String: Int64] = [
            "second": 1_000_000, "seconds": 1_000_000, "s": 1_000_000, "minute": 60_000_000, "minutes": 60_000_000,
            "min": 60_000_000, "hour": 3_600_000_000, "hours": 3_600_000_000, "h": 3_600_000_000,
            "day": 86_400_000_000, "days": 86_400_000_000, "d": 86_400_000_000,
        ]
        guard let scale = units[parts[1].lowercased()] else { return nil }
        return n * scale
    }
}
