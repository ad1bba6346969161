import ConnectorKit
import Flow
import Foundation
import Manifest

/// What `dpone batch --dry-run` shows: what would run, against what, and what state would change.
/// Building it reads the state store but connects to no source or sink and changes nothing.
public struct BatchPlan: Sendable, Codable {
    public var pipeline: String
    public var source: String
    public var sink: String
    public var strategy: String
    public var transforms: [String]
    public var stateLocation: String
    /// The last durable state: the run would resume from its positions.
    public var stateBefore: PipelineState?
    /// The checkpoint the run would commit (its positions are known only after reading).
    public var nextCheckpoint: UInt64
    /// Where rows are staged before they are published.
    public var staging: String
    /// Checks on the staged rows that must pass before the target is touched.
    public var checks: [String]
    /// The statements (or file operations) the finalizer runs, in order, in one transaction where the
    /// target has transactions.
    public var finalizer: [String]

    enum CodingKeys: String, CodingKey {
        case pipeline, source, sink, strategy, transforms, staging, checks, finalizer
        case stateLocation = "state_location"
        case stateBefore = "state_before"
        case nextCheckpoint = "next_checkpoint"
    }

    public static func make(document: ManifestDocument, stateDirectory: String?) async throws -> BatchPlan {
        let store = StateStores.make(for: document, override: stateDirectory)
        let before = try await store.load(pipeline: document.name)
        let loadID = "<load id>"
        var plan = BatchPlan(
            pipeline: document.name, source: describe(document.source), sink: describe(document.sink),
            strategy: document.sink.strategy.mode.rawValue,
            transforms: try ConnectorFactory.transforms(document, loadID: loadID, loadedAt: 0).map(\.name),
            stateLocation: store.location(pipeline: document.name), stateBefore: before,
            nextCheckpoint: StateStores.resumePoint(store: store, previous: before).rawValue + 1, staging: "", checks: [], finalizer: [])
        let request = SinkRequest(config: document.sink, pipeline: document.name, loadID: loadID, state: document.state)
        let sink = try ConnectorRegistry.descriptor(for: document.sink.type, role: "sink")
        let dryRun = try await sink.dryRun(request, nextCheckpoint: plan.nextCheckpoint) {
            // The staged columns come from the source's schema (a catalog lookup or a file sample: read-only).
            let source = try ConnectorFactory.source(document.source, pipeline: document.name, keyColumns: document.sink.strategy.uniqueKey)
            let transforms = try ConnectorFactory.transforms(document, loadID: loadID, loadedAt: 0)
            let schemas = try PipelineGraph(name: document.name, source: source, transforms: transforms, sinks: [])
                .resolveSchemas(sourceSchema: try await source.outputSchema())
            return schemas[schemas.count - 1].names
        }
        if let dryRun {
            plan.staging = dryRun.staging
            plan.checks = dryRun.checks
            plan.finalizer = dryRun.finalizer
        }
        return plan
    }

    static func describe(_ source: SourceConfig) -> String {
        (try? ConnectorRegistry.descriptor(for: source.type, role: "source").describe(source: source)) ?? source.type.rawValue
    }

    static func describe(_ sink: SinkConfig) -> String {
        (try? ConnectorRegistry.descriptor(for: sink.type, role: "sink").describe(sink: sink)) ?? sink.type.rawValue
    }

    public func text() -> String {
        var lines = [
            "plan for \(pipeline) (dry run: nothing is published and no state is written)",
            "  source: \(source)",
            "  sink: \(sink), strategy \(strategy)",
            "  transforms: \(transforms.isEmpty ? "none" : transforms.joined(separator: " -> "))",
            "  state: \(stateLocation)",
            "    before: \(stateBefore.map { "checkpoint \($0.checkpoint), positions \(Self.json($0.source))" } ?? "none (first run: reads everything)")",
            "    after: checkpoint \(nextCheckpoint) with the positions read, committed only after the sink published",
            "  staging: \(staging)",
        ]
        if !checks.isEmpty { lines.append("  checks before the target is touched:") }
        lines += checks.map { "    \($0)" }
        lines.append("  finalizer:")
        lines += finalizer.map { "    \($0)" }
        return lines.joined(separator: "\n")
    }

    static func json(_ value: StateValue?) -> String {
        guard let value, let data = try? JSONEncoder().encode(value) else { return "none" }
        return String(decoding: data, as: UTF8.self)
    }

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
