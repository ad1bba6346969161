import Foundation
import Synchronization

/// The process's metrics in Prometheus' text exposition format (version 0.0.4), for `dpone stream
/// --metrics-port`. Gauges and counters are set by the engine and the sources as they go;
/// collectors are asked for their samples at each render (channel occupancy, rows/s).
///
/// One registry per process (`shared`): one process runs one pipeline. Cheap enough to update per
/// checkpoint or per receive loop, never per row.
public final class MetricsRegistry: Sendable {
    public static let shared = MetricsRegistry()

    public enum Kind: String, Sendable { case gauge, counter, histogram }

    /// One sample of a family: its labels (in order) and value; `suffix` for histogram series.
    public struct Sample: Sendable, Equatable {
        public var labels: [(String, String)]
        public var value: Double
        public var suffix: String

        public init(labels: [(String, String)] = [], value: Double, suffix: String = "") {
            self.labels = labels
            self.value = value
            self.suffix = suffix
        }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.value == b.value && a.suffix == b.suffix && a.labels.elementsEqual(b.labels, by: { $0 == $1 })
        }
    }

    struct Family: Sendable {
        var help: String
        var kind: Kind
        /// Keyed by the rendered label set.
        var samples: [String: Sample] = [:]
    }

    /// Upper bounds of the checkpoint duration histogram, seconds.
    public static let durationBuckets: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60]

    private let families = Mutex<[String: Family]>([:])
    private let collectors = Mutex<[String: @Sendable () -> [(name: String, help: String, kind: Kind, samples: [Sample])]]>([:])

    public init() {}

    /// Sets a gauge.
    public func set(_ name: String, _ value: Double, labels: [(String, String)] = [], help: String) {
        update(name, help: help, kind: .gauge) { $0[Self.key(labels)] = Sample(labels: labels, value: value) }
    }

    /// Adds to a counter.
    public func add(_ name: String, _ delta: Double = 1, labels: [(String, String)] = [], help: String) {
        update(name, help: help, kind: .counter) { samples in
            let key = Self.key(labels)
            samples[key] = Sample(labels: labels, value: (samples[key]?.value ?? 0) + delta)
        }
    }

    /// Records one observation in a histogram with `buckets` (cumulative `_bucket{le}`, `_sum`, `_count`).
    public func observe(_ name: String, _ value: Double, buckets: [Double] = durationBuckets, help: String) {
        update(name, help: help, kind: .histogram) { samples in
            for bound in buckets.map({ Self.number($0) }) + ["+Inf"] {
                let labels = [("le", bound)]
                let key = "_bucket" + Self.key(labels)
                let hit = bound == "+Inf" || value <= Double(bound)!
                samples[key] = Sample(labels: labels, value: (samples[key]?.value ?? 0) + (hit ? 1 : 0), suffix: "_bucket")
            }
            samples["_sum"] = Sample(value: (samples["_sum"]?.value ?? 0) + value, suffix: "_sum")
            samples["_count"] = Sample(value: (samples["_count"]?.value ?? 0) + 1, suffix: "_count")
        }
    }

    /// Registers (or replaces) a collector whose samples are computed at each render.
    public func collect(
        _ id: String, _ collector: @escaping @Sendable () -> [(name: String, help: String, kind: Kind, samples: [Sample])]
    ) {
        collectors.withLock { $0[id] = collector }
    }

    /// Drops one sample (a partition this worker no longer owns).
    public func remove(_ name: String, labels: [(String, String)] = []) {
        families.withLock { _ = $0[name]?.samples.removeValue(forKey: Self.key(labels)) }
    }

    /// Forgets every metric and collector (tests).
    public func reset() {
        families.withLock { $0 = [:] }
        collectors.withLock { $0 = [:] }
    }

    /// The current value of a gauge or counter sample (tests, the status line).
    public func value(_ name: String, labels: [(String, String)] = []) -> Double? {
        families.withLock { $0[name]?.samples[Self.key(labels)]?.value }
    }

    /// Every family in the text exposition format, sorted by name (samples by labels).
    public func render() -> String {
        var all = families.withLock { $0 }
        let collected = collectors.withLock { Array($0.values) }
        for collector in collected {
            for family in collector() {
                var f = all[family.name] ?? Family(help: family.help, kind: family.kind)
                for sample in family.samples { f.samples[sample.suffix + Self.key(sample.labels)] = sample }
                all[family.name] = f
            }
        }
        var out = ""
        for name in all.keys.sorted() {
            let family = all[name]!
            out += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.kind.rawValue)\n"
            let ordered = family.samples.sorted { a, b in
                // Histogram buckets in ascending bound, then _sum and _count.
                if a.value.suffix != b.value.suffix { return Self.suffixOrder(a.value.suffix) < Self.suffixOrder(b.value.suffix) }
                if a.value.suffix == "_bucket", let x = a.value.labels.first?.1, let y = b.value.labels.first?.1 {
                    return (Double(x) ?? .infinity) < (Double(y) ?? .infinity)
                }
                return a.key < b.key
            }
            for (_, sample) in ordered {
                out += "\(name)\(sample.suffix)\(Self.key(sample.labels)) \(Self.number(sample.value))\n"
            }
        }
        return out
    }

    private func update(_ name: String, help: String, kind: Kind, _ body: (inout [String: Sample]) -> Void) {
        families.withLock { families in
            var family = families[name] ?? Family(help: help, kind: kind)
            body(&family.samples)
            families[name] = family
        }
    }

    private static func suffixOrder(_ suffix: String) -> Int {
        switch suffix {
        case "_bucket": 0
        case "_sum": 1
        case "_count": 2
        default: -1
        }
    }

    /// `{a="x",b="y"}` with Prometheus escaping, or "" without labels.
    static func key(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        let body = labels.map { name, value in
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(name)=\"\(escaped)\""
        }
        return "{" + body.joined(separator: ",") + "}"
    }

    /// Integers without a fraction; others as Swift prints them; +Inf / NaN as Prometheus spells them.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
