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

        public init(id: String, source: String, sink: String, strategy: String, outcome: String, detail: String? = nil) {
            self.id = id
            self.source = source
            self.sink = sink
            self.strategy = strategy
            self.outcome = outcome
            self.detail = detail
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
