import ArgumentParser
import Flow
import Foundation
import Manifest
import Pipeline

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    case auto, plain, none
}

struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run a bounded load: extract, stage, finalize, commit state.",
        discussion: """
            Exit codes: 0 success, 1 the run failed (target and state unchanged unless the \
            failure came after the commit, which the result says), 2 bad usage or invalid manifest.
            """
    )

    @Argument(help: "The pipeline manifest (YAML).")
    var manifest: String

    @Option(help: "Result format: text or json (one JSON document on standard output).")
    var format: OutputFormat = .text

    @Option(help: "Progress line: auto (live on a terminal), plain (a line every 5 s), none.")
    var progress: ProgressMode = .auto

    @Option(name: .customLong("state-dir"), help: "Directory of the file state store (default: the manifest's state.dir or .dpone/state).")
    var stateDir: String?

    @Flag(name: .customLong("dry-run"), help: "Print the plan (staging, checks, finalizer SQL, state before/after) and change nothing.")
    var dryRun = false

    func run() async throws {
        let document = try ManifestCommand.loadOrExit(manifest)
        if dryRun, document.sink.strategy.mode == .backfill {
            try await BackfillCommand.printPlan(document, stateDir: stateDir, format: format)
            return
        }
        if dryRun {
            let plan = try await BatchPlan.make(document: document, stateDirectory: stateDir)
            print(format == .json ? plan.jsonString() : plan.text())
            return
        }
        if document.sink.strategy.mode == .backfill {
            let reporter = ProgressReporter(mode: progress)
            let result = await BackfillRunner.run(
                document: document, options: BatchOptions(stateDirectory: stateDir),
                onChunk: reporter.isEnabled ? reporter.line : nil)
            try BatchCommand.report(result, format: format)
            return
        }
        let reporter = ProgressReporter(mode: progress)
        let result = await BatchPipeline.run(
            document: document,
            options: BatchOptions(stateDirectory: stateDir, progress: reporter.isEnabled ? reporter.update : nil))
        reporter.finish()
        try BatchCommand.report(result, format: format)
    }

    /// Prints a run's result (text or one JSON document) and exits non-zero when it failed.
    static func report(_ result: RunResult, format: OutputFormat) throws {
        switch format {
        case .json: print(result.jsonString())
        case .text: print(result.textSummary())
        }
        if result.status != .succeeded {
            if format == .json, let error = result.error { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
            throw ExitCode(result.exitCode)
        }
    }
}
