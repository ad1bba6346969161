import ConnectorKit
import Flow
import Foundation
import Manifest

/// The contract layer of the matrix: for one case, without any server, its manifest is validated,
/// its operators are built, and the sink's plan (staging, checks, finalizer statements or event
/// mapping) is rendered for its dialect from the behaviour model's columns.
///
/// "Validation agrees with the run": a manifest that validates must build its operators; a refusal
/// the manifest alone decides (a mode, a missing key) must come from validation, with the file,
/// line and key. `MatrixContract.Report.agrees` says whether that held.
public enum MatrixContract {
    public enum Outcome: String, Sendable, Codable {
        /// Validated, built, planned.
        case planned
        /// Refused by validation, with its diagnostic.
        case refused
        /// Validated, then refused while building its operators: validation and run disagree.
        case refusedAfterValidation = "refused_after_validation"
    }

    public struct Report: Sendable {
        public var id: String
        public var outcome: Outcome
        /// Validation's errors (`file:line:column: message`), or the build error.
        public var diagnostic: String?
        public var manifest: String
        public var plan: SinkDryRun?
        /// A backfill's chunks (the plan shown is its first chunk's).
        public var chunks: [String]?

        /// Validation and the build agree.
        public var agrees: Bool { outcome != .refusedAfterValidation }

        /// The golden text: the case, its manifest, what validation said, the sink's plan.
        public var text: String {
            var lines = ["case: \(id)", "outcome: \(outcome.rawValue)", "manifest:"]
            lines += manifest.split(separator: "\n", omittingEmptySubsequences: false).map { "  \($0)" }.dropLast()
            if let diagnostic { lines.append("diagnostic: \(diagnostic)") }
            if let chunks {
                lines.append("backfill chunks (the plan below is chunk 0's):")
                lines += chunks.map { "  \($0)" }
            }
            if let plan {
                lines.append("staging: \(plan.staging)")
                if !plan.checks.isEmpty { lines.append("checks:") }
                lines += plan.checks.map { "  \($0)" }
                lines.append("finalizer:")
                lines += plan.finalizer.map { "  \($0)" }
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// Runs the contract of `c`. The manifest is parsed as `matrix/<id>.yml`.
    public static func run(_ c: MatrixCase, endpoints: MatrixEndpoints = .contract) async -> Report {
        let manifest = MatrixManifest.render(c, endpoints: endpoints)
        var report = Report(id: c.id, outcome: .planned, diagnostic: nil, manifest: manifest, plan: nil, chunks: nil)
        var document: ManifestDocument
        do {
            document = try ManifestLoader.parse(yaml: manifest, path: "matrix/\(c.id).yml", environment: endpoints.environment)
        } catch {
            report.outcome = .refused
            report.diagnostic = error.description
            return report
        }
        do {
            if let backfill = document.sink.strategy.backfill {
                // A backfill publishes chunk by chunk: its first chunk's pipeline is what is built and planned.
                let plan = try BackfillPlan.make(backfill)
                report.chunks = plan.chunks.map { "\($0.range): WHERE \(plan.predicate($0))" }
                document = try BackfillRunner.chunkDocument(document, plan: plan, chunk: plan.chunks[0], config: backfill)
            }
            let continuous = c.strategy.streams ? ContinuousMode(checkpointInterval: 5, stop: StopSignal()) : nil
            var sourceConfig = document.source
            if continuous != nil, let connector = try? ConnectorRegistry.descriptor(for: sourceConfig.type, role: "source") {
                sourceConfig = connector.forStream(sourceConfig, pipeline: document.name)
            }
            let source = try ConnectorFactory.source(
                sourceConfig, pipeline: document.name, continuous: continuous, keyColumns: document.sink.strategy.uniqueKey)
            let request = SinkRequest(
                config: document.sink, pipeline: document.name, loadID: "<load id>", state: document.state,
                changeData: source.emitsChangeData, sourceRepeatsKeys: (try? ConnectorRegistry.descriptor(for: c.source, role: "source"))?.sourceRepeatsKeys ?? false,
                sourceEmitsDeletes: source.emitsDeletes)
            _ = try ConnectorFactory.sink(request)
            let transforms = try ConnectorFactory.transforms(document, loadID: "<load id>", loadedAt: 0)
            let schemas = try PipelineGraph(name: document.name, source: source, transforms: transforms, sinks: [])
                .resolveSchemas(sourceSchema: MatrixModel.schema)
            let staged = schemas[schemas.count - 1].names
            report.plan = try await ConnectorRegistry.descriptor(for: c.sink, role: "sink")
                .dryRun(request, nextCheckpoint: 1) { staged }
        } catch {
            report.outcome = .refusedAfterValidation
            report.diagnostic = Redaction.scrub("\(error)")
        }
        return report
    }
}
