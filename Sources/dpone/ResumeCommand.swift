import ArgumentParser
import ConnectorKit
import Flow
import Foundation
import Manifest
import Pipeline

/// `dpone resume MANIFEST [--run RUN_ID]`: continues an interrupted batch run or backfill from its
/// last durable checkpoint, and says what it skipped as already published. (A replay is harmless
/// anyway: the ledgers recognise published checkpoints. Resume is about reporting, and about not
/// redoing finished chunks.)
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue an interrupted run from its last durable checkpoint, reporting what was already published.",
        discussion: """
            A batch run resumes after the pipeline's last committed checkpoint (its source positions); \
            a backfill resumes its ledger: finished chunks are skipped, chunks of dead lanes are taken \
            over, and chunks found published are only recorded. --run refuses to resume when the last \
            durable checkpoint was committed by another run. Streams (`dpone stream`) always resume \
            from their state: run them again.
            """
    )

    @Argument(help: "The pipeline manifest (YAML).")
    var manifest: String

    @Option(help: "Resume only if the last durable checkpoint belongs to this run id.")
    var run: String?

    @Option(help: "Result format: text or json.")
    var format: OutputFormat = .text

    @Option(help: "Progress: auto (on a terminal), plain, none.")
    var progress: ProgressMode = .auto

    @Option(name: .customLong("state-dir"), help: "Directory of the file state store.")
    var stateDir: String?

    func run() async throws {
        let document = try ManifestCommand.loadOrExit(manifest)
        let reporter = ProgressReporter(mode: progress)
        if document.sink.strategy.mode == .backfill {
            if run != nil {
                throw DponeError(.usage, "--run applies to batch runs; a backfill resumes from its chunk ledger, whichever run left it")
            }
            let ledger = try BackfillRunner.ledger(for: document, override: stateDir)
            guard let before = try await ledger.snapshot() else {
                throw DponeError(
                    .state, "backfill of \(document.name) has not started (no ledger at \(ledger.location)): nothing to resume",
                    hint: "start it with `dpone batch \(manifest)`")
            }
            let skipped = before.chunks.filter { $0.status == .done }.map(\.chunk.index)
            FileHandle.standardError.write(Data(
                "resuming backfill \(before.id) of \(document.name): \(skipped.count) of \(before.chunks.count) chunks already done (skipped)\(skipped.isEmpty ? "" : ": " + Self.ranges(skipped))\n".utf8))
            let result = await BackfillRunner.run(
                document: document, options: BatchOptions(stateDirectory: stateDir), onChunk: reporter.isEnabled ? reporter.line : nil)
            try BatchCommand.report(result, format: format)
            return
        }
        let store = StateStores.make(for: document, override: stateDir)
        let previous = try await store.load(pipeline: document.name)
        if let wanted = run, previous?.runID != wanted {
            throw DponeError(
                .state,
                "the last durable checkpoint of \(document.name) was committed by run \(previous?.runID ?? "none"), not \(wanted)",
                hint: "`dpone state show \(manifest)` shows it; resume without --run to continue from it")
        }
        let line = previous.map {
            "resuming \(document.name) after checkpoint \($0.checkpoint) (committed \($0.committedAt) by run \($0.runID ?? "?")): what it published is skipped"
        } ?? "no durable checkpoint for \(document.name): the run starts from the beginning (published checkpoints are still recognised by the target's ledger)"
        FileHandle.standardError.write(Data("\(line)\n".utf8))
        let result = await BatchPipeline.run(
            document: document, options: BatchOptions(stateDirectory: stateDir, progress: reporter.isEnabled ? reporter.update : nil))
        reporter.finish()
        try BatchCommand.report(result, format: format)
    }

    /// `0-4, 7, 9-12`.
    static func ranges(_ indexes: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        let sorted = indexes.sorted()
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count, sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(i == j ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }
}
