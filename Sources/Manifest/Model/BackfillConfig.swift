import Flow
import Foundation

/// `sink.strategy.backfill` of `mode: backfill`: a historical load cut into chunks of `column`
/// between `from` and `to`, each chunk loaded with `inner_mode` by one of `parallel_workers` lanes.
///
/// ```yaml
/// strategy:
///   mode: backfill
///   backfill: {column: order_date, from: '2026-01-01', to: '2026-04-01', chunk: 7 days,
///              inner_mode: replace, parallel_workers: 2}
/// ```
public struct BackfillConfig: Sendable, Hashable, Codable {
    /// The column the chunks are ranges of (pushed to the source as a predicate).
    public var column: String
    /// Dates and timestamps: the half-open range `[from, to)`. Integers: the inclusive range `[from, to]`.
    public var from: String
    public var to: String
    /// Integers: rows per chunk as a count of values (`10000`). Dates: `N day(s)|week(s)|month(s)`;
    /// timestamps also `N hour(s)|minute(s)`.
    public var chunk: String
    /// How each chunk is published; default `replace` (the chunk's window is rewritten, so a chunk
    /// run twice leaves the same rows).
    public var innerMode: LoadMode = .replace
    /// Lanes in this process that claim chunks; default 1. Any number of processes may run the same
    /// backfill: chunks are claimed from the shared ledger.
    public var parallelWorkers: Int = 1
    /// The backfill's identity in the chunk ledger (default `default`). Its plan and configuration
    /// are frozen under it: changing the range, chunk size, column or inner mode needs a new id.
    public var id: String = "default"
    /// How long a claimed chunk stays a lane's without a heartbeat before another lane may take it
    /// over (seconds; default 60).
    public var leaseSeconds: Int = 60

    public init(column: String, from: String, to: String, chunk: String) {
        self.column = column
        self.from = from
        self.to = to
        self.chunk = chunk
    }

    enum CodingKeys: String, CodingKey {
        case column, from, to, chunk, id
        case innerMode = "inner_mode"
        case parallelWorkers = "parallel_workers"
        case leaseSeconds = "lease_seconds"
    }

    /// The inner modes a chunk can be published with.
    public static let innerModes: [LoadMode] = [.replace, .partitionReplace, .incrementalMerge, .incrementalAppend, .fullRefresh]
}

/// The kind of values a backfill's column holds, told from `from` and `to`.
public enum BackfillDomain: String, Sendable, Hashable, Codable {
    case integer, date, timestamp
}

/// One chunk: `[lower, upper)` for dates and timestamps, `[lower, upper]` for integers.
public struct BackfillChunk: Sendable, Hashable, Codable {
    /// 0-based position in the plan.
    public var index: Int
    public var lower: String
    public var upper: String
    public var upperInclusive: Bool

    public init(index: Int, lower: String, upper: String, upperInclusive: Bool) {
        self.index = index
        self.lower = lower
        self.upper = upper
        self.upperInclusive = upperInclusive
    }

    enum CodingKeys: String, CodingKey {
        case index, lower, upper
        case upperInclusive = "upper_inclusive"
    }

    /// `[lower, upper)` or `[lower, upper]`, for logs and status.
    public var range: String { "[\(lower), \(upper)\(upperInclusive ? "]" : ")")" }
}

/// The deterministic chunk plan of a backfill: the same configuration always gives the same chunks,
/// and `digest` names them.
public struct BackfillPlan: Sendable, Hashable, Codable {
    /// More chunks than this is almost certainly a unit mistake (`chunk: 1` over a year of seconds).
    public static let maxChunks = 100_000

    public var column: String
    public var domain: BackfillDomain
    public var chunks: [BackfillChunk]

    /// Plans `config` (`inner_mode: full_refresh` is one chunk over the whole range). Throws a
    /// `.manifest` error naming the key at fault.
    public static func make(_ config: BackfillConfig) throws -> BackfillPlan {
        if let lo = Int64(config.from), let hi = Int64(config.to) {
            guard lo <= hi else { throw planError("from (\(lo)) is after to (\(hi))", key: "from") }
            if config.innerMode == .fullRefresh {
                return BackfillPlan(column: config.column, domain: .integer, chunks: [BackfillChunk(index: 0, lower: "\(lo)", upper: "\(hi)", upperInclusive: true)])
            }
            guard let size = Int64(config.chunk.trimmingCharacters(in: .whitespaces)), size > 0 else {
                throw planError("chunk '\(config.chunk)' is not a positive integer (the column's range is integers)", key: "chunk")
            }
            let (span, overflow) = (hi - lo).addingReportingOverflow(1)
            let count = overflow ? Int64.max : (span + size - 1) / size
            guard count <= maxChunks else { throw planError("the plan has \(count) chunks, more than \(maxChunks)", key: "chunk") }
            var chunks: [BackfillChunk] = []
            var start = lo
            while true {
                let end = min(hi, start.addingReportingOverflow(size - 1).overflow ? hi : start + size - 1)
                chunks.append(BackfillChunk(index: chunks.count, lower: "\(start)", upper: "\(end)", upperInclusive: true))
                if end >= hi { break }
                start = end + 1
            }
            return BackfillPlan(column: config.column, domain: .integer, chunks: chunks)
        }
        guard let (from, fromDomain) = BackfillTime.parse(config.from) else {
            throw planError("from '\(config.from)' is neither an integer, a date (YYYY-MM-DD) nor a timestamp (YYYY-MM-DD HH:MM:SS)", key: "from")
        }
        guard let (to, toDomain) = BackfillTime.parse(config.to) else {
            throw planError("to '\(config.to)' is neither an integer, a date (YYYY-MM-DD) nor a timestamp (YYYY-MM-DD HH:MM:SS)", key: "to")
        }
        let domain: BackfillDomain = fromDomain == .date && toDomain == .date ? .date : .timestamp
        guard from < to else { throw planError("from (\(config.from)) is not before to (\(config.to)): the range [from, to) is empty", key: "to") }
        let render = { (d: Date) in BackfillTime.render(d, as: domain) }
        if config.innerMode == .fullRefresh {
            return BackfillPlan(column: config.column, domain: domain, chunks: [BackfillChunk(index: 0, lower: render(from), upper: render(to), upperInclusive: false)])
        }
        guard let step = BackfillTime.Step(config.chunk), domain == .timestamp || step.component != .hour && step.component != .minute else {
            throw planError(
                "chunk '\(config.chunk)' is not a size like '1 day', '7 days', '1 month'\(domain == .timestamp ? ", '6 hours'" : "")", key: "chunk")
        }
        var chunks: [BackfillChunk] = []
        var start = from
        while start < to {
            guard chunks.count < maxChunks else { throw planError("the plan has more than \(maxChunks) chunks", key: "chunk") }
            let end = min(to, step.advance(start))
            chunks.append(BackfillChunk(index: chunks.count, lower: render(start), upper: render(end), upperInclusive: false))
            start = end
        }
        return BackfillPlan(column: config.column, domain: domain, chunks: chunks)
    }

    static func planError(_ message: String, key: String) -> DponeError {
        DponeError(.manifest, "backfill: \(message)", context: ["key": "sink.strategy.backfill.\(key)"])
    }

    /// A stable name of the chunks (FNV-1a 64 over their canonical text).
    public var digest: String { BackfillPlan.fnv1a("\(column)|\(domain.rawValue)|" + chunks.map(\.range).joined(separator: ",")) }

    /// The chunk's window as an ANSI SQL predicate on the column (`"c" >= '2026-01-01' AND "c" <
    /// '2026-01-08'`), with the column quoted by `quote` (default: double quotes). Read by database
    /// sources and by dpone's own row filter alike.
    public func predicate(_ chunk: BackfillChunk, quote: (String) -> String = BackfillPlan.ansiQuoted) -> String {
        let column = quote(self.column)
        let literal = { (v: String) in domain == .integer ? v : "'" + v.replacing("'", with: "''") + "'" }
        return "\(column) >= \(literal(chunk.lower)) AND \(column) \(chunk.upperInclusive ? "<=" : "<") \(literal(chunk.upper))"
    }

    public static func ansiQuoted(_ name: String) -> String { "\"" + name.replacing("\"", with: "\"\"") + "\"" }

    public static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16).leftPadded(to: 16)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Dates and timestamps of a backfill range: UTC, Gregorian.
enum BackfillTime {
    static let calendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// `YYYY-MM-DD` (a date) or `YYYY-MM-DD HH:MM[:SS]` / with `T` and an optional `Z` (a timestamp).
    static func parse(_ text: String) -> (Date, BackfillDomain)? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let parts = t.split(omittingEmptySubsequences: false, whereSeparator: { $0 == " " || $0 == "T" })
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let ymd = parts[0].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard ymd.count == 3, parts[0].count == 10, let y = ymd[0], let m = ymd[1], let d = ymd[2] else { return nil }
        var components = DateComponents(year: y, month: m, day: d, hour: 0, minute: 0, second: 0)
        var domain = BackfillDomain.date
        if parts.count == 2 {
            var time = String(parts[1])
            if time.hasSuffix("Z") { time.removeLast() }
            let hms = time.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
            guard hms.count == 2 || hms.count == 3, hms.allSatisfy({ $0 != nil }) else { return nil }
            components.hour = hms[0]
            components.minute = hms[1]
            components.second = hms.count == 3 ? hms[2]! : 0
            domain = .timestamp
        }
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return (date, domain)
    }

    static func render(_ date: Date, as domain: BackfillDomain) -> String {
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
        return domain == .date ? day : day + String(format: " %02d:%02d:%02d", c.hour!, c.minute!, c.second!)
    }

    /// `N unit`, e.g. `1 day`, `7 days`, `1 month`, `6 hours`.
    struct Step {
        let count: Int
        let component: Calendar.Component

        init?(_ text: String) {
            let words = text.lowercased().split(separator: " ", omittingEmptySubsequences: true)
            guard words.count == 2, let n = Int(words[0]), n > 0 else { return nil }
            let unit = words[1].hasSuffix("s") ? String(words[1].dropLast()) : String(words[1])
            let units: [String: Calendar.Component] = ["day": .day, "week": .weekOfYear, "month": .month, "hour": .hour, "minute": .minute]
            guard let component = units[unit] else { return nil }
            count = n
            self.component = component
        }

        func advance(_ date: Date) -> Date { BackfillTime.calendar.date(byAdding: component, value: count, to: date)! }
    }
}
