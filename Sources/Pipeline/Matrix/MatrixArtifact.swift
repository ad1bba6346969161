import Foundation

/// A matrix run's report: `test_artifacts/integration_matrix/<date>_<slug>.md` and `.json`, with
/// the coverage per strategy as a 5 × 5 table of outcomes.
public enum MatrixArtifact {
    /// One case's line in the report.
    public struct Entry: Sendable, Codable {
        public var id: String
        public var source: String
        public var sink: String
        public var strategy: String
        /// `pass`, `fail`, `refused` (the documented diagnostic was asserted), `contract-only`.
        public var outcome: String
        public var detail: String?
        /// What the case's runs reported (local layer): rows loaded by both loads, their time, and
        /// the largest peak RSS of a run; summed over the engines a ClickHouse case runs on.
        public var rows: Int?
        public var seconds: Double?
        public var peakRSSMB: Double?
        /// The case's log (the runs' output), relative to the report.
        public var log: String?

        public init(id: String, source: String, sink: String, strategy: String, outcome: String, detail: String? = nil) {
            self.id = id
            self.source = source
            self.sink = sink
            self.strategy = strategy
            self.outcome = outcome
            self.detail = detail
        }

        /// Adds a run's figures, read from the summary `dpone batch` prints
        /// (`rows: extracted N, loaded N ...`, `time: S s, ..., peak RSS M MB`).
        public mutating func addRun(output: String) {
            for line in output.split(separator: "\n") {
                let text = line.trimmingCharacters(in: .whitespaces)
                if text.hasPrefix("rows: "), let loaded = Self.number(after: "loaded ", in: text) {
                    rows = (rows ?? 0) + Int(loaded)
                } else if text.hasPrefix("time: ") {
                    if let s = Self.number(after: "time: ", in: text) { seconds = (seconds ?? 0) + s }
                    if let rss = Self.number(after: "peak RSS ", in: text) { peakRSSMB = max(peakRSSMB ?? 0, rss) }
                }
            }
        }

        static func number(after marker: String, in text: String) -> Double? {
            guard let range = text.range(of: marker) else { return nil }
            return Double(text[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
    }

    /// Writes the report; returns the Markdown path.
    @discardableResult
    public static func write(
        _ entries: [Entry], layer: String, slug: String, command: String, environment: [String: String], directory: String
    ) throws -> String {
        let date = ISO8601DateFormatter().string(from: Date()).prefix(10)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = "\(directory)/\(date)_\(slug)"
        var counts: [String: Int] = [:]
        for entry in entries { counts[entry.outcome, default: 0] += 1 }
        var md = ["# Integration matrix, \(layer) layer: \(entries.count) cases (\(date))", ""]
        md.append("Command: `\(command)`")
        md.append("")
        md.append("Environment: " + environment.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "; "))
        md.append("")
        md.append("Outcomes: " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        let sources = IntegrationMatrix.sourceSystems.map(\.rawValue)
        let sinks = IntegrationMatrix.sinkSystems.map(\.rawValue)
        for strategy in MatrixStrategy.allCases {
            let rows = entries.filter { $0.strategy == strategy.rawValue }
            guard !rows.isEmpty else { continue }
            md += ["", "## \(strategy.rawValue)", "", "| source \\ sink | " + sinks.joined(separator: " | ") + " |", "|---" + String(repeating: "|---", count: sinks.count) + "|"]
            for source in sources {
                let cells = sinks.map { sink in rows.first { $0.source == source && $0.sink == sink }?.outcome ?? "—" }
                md.append("| \(source) | " + cells.joined(separator: " | ") + " |")
            }
        }
        let measured = entries.filter { $0.rows != nil || $0.log != nil }
        if !measured.isEmpty {
            md += ["", "## Cases run", "", "| case | outcome | rows loaded | time (s) | rows/s | peak RSS (MB) | log |", "|---|---|---|---|---|---|---|"]
            for e in measured {
                let rate = e.rows.flatMap { rows in e.seconds.flatMap { $0 > 0 ? String(Int(Double(rows) / $0)) : nil } } ?? "—"
                md.append(
                    "| `\(e.id)` | \(e.outcome) | \(e.rows.map(String.init) ?? "—") | \(e.seconds.map { String(format: "%.2f", $0) } ?? "—") | \(rate) | "
                        + "\(e.peakRSSMB.map { String(format: "%.1f", $0) } ?? "—") | \(e.log.map { "[log](\($0))" } ?? "—") |")
            }
        }
        let notes = entries.filter { $0.detail != nil && $0.outcome != "pass" }
        if !notes.isEmpty {
            md += ["", "## Refusals and failures", ""]
            md += notes.map { "- `\($0.id)` (\($0.outcome)): \($0.detail!.replacingOccurrences(of: "\n", with: " "))" }
        }
        try (md.joined(separator: "\n") + "\n").write(toFile: base + ".md", atomically: true, encoding: .utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        struct Document: Encodable {
            var name: String, date: String, layer: String, command: String, environment: [String: String], counts: [String: Int], cases: [Entry]
        }
        let document = Document(
            name: "\(date)_\(slug)", date: String(date), layer: layer, command: command, environment: environment, counts: counts, cases: entries)
        try encoder.encode(document).write(to: URL(fileURLWithPath: base + ".json"))
        return base + ".md"
    }
}
