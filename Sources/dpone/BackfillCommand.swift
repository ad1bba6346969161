import ArgumentParser
import ConnectorKit
import Flow
import Foundation
import Manifest
import Pipeline

/// `dpone backfill plan|status|retry-failed|cancel MANIFEST`: the chunk ledger of a `mode: backfill`
/// pipeline. `dpone batch MANIFEST` runs (and continues) the backfill itself.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Plan, inspect, retry or cancel a chunked backfill (`dpone batch` runs it).",
        subcommands: [Plan.self, Status.self, RetryFailed.self, Cancel.self]
    )

    struct Common: ParsableArguments {
        @Argument(help: "The pipeline manifest (YAML) with sink.strategy.mode: backfill.")
        var manifest: String

        @Option(name: .customLong("state-dir"), help: "Directory of the file state store (holds the chunk ledger).")
        var stateDir: String?

        @Option(help: "Output format: text or json.")
        var format: OutputFormat = .text

        func document() throws -> ManifestDocument {
            let document = try ManifestCommand.loadOrExit(manifest)
            guard document.sink.strategy.mode == .backfill else {
                throw DponeError(
                    .usage, "pipeline '\(document.name)' is not a backfill (sink.strategy.mode is \(document.sink.strategy.mode.rawValue))",
                    hint: "set mode: backfill with a backfill: {column, from, to, chunk} section")
            }
            return document
        }
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the chunk plan; changes nothing.")
        @OptionGroup var common: Common

        func run() async throws {
            try await BackfillCommand.printPlan(try common.document(), stateDir: common.stateDir, format: common.format)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Chunks done, running (by whom, lease age) and failed (with their error), with a progress bar.")
        @OptionGroup var common: Common

        func run() async throws {
            let document = try common.document()
            let ledger = try BackfillRunner.ledger(for: document, override: common.stateDir)
            guard let snapshot = try await ledger.snapshot() else {
                print("backfill of \(document.name) has not started (no ledger at \(ledger.location))")
                return
            }
            if common.format == .json {
                print(BackfillCommand.json(snapshot))
                return
            }
            print(BackfillCommand.statusText(snapshot, now: Date().timeIntervalSince1970))
        }
    }

    struct RetryFailed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry-failed", abstract: "Run the failed chunks again, and only them.")
        @OptionGroup var common: Common

        @Option(help: "Progress lines: auto (on a terminal), plain, none.")
        var progress: ProgressMode = .auto

        func run() async throws {
            let reporter = ProgressReporter(mode: progress)
            let result = await BackfillRunner.run(
                document: try common.document(), options: BatchOptions(stateDirectory: common.stateDir), onlyFailed: true,
                onChunk: reporter.isEnabled ? reporter.line : nil)
            try BatchCommand.report(result, format: common.format)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel the chunks not started (running chunks finish); a new backfill id starts over.")
        @OptionGroup var common: Common

        func run() async throws {
            let document = try common.document()
            let ledger = try BackfillRunner.ledger(for: document, override: common.stateDir)
            guard try await ledger.snapshot() != nil else {
                print("backfill of \(document.name) has not started (no ledger at \(ledger.location)); nothing to cancel")
                return
            }
            let n = try await ledger.cancel()
            print("backfill of \(document.name) cancelled: \(n) chunks will not run (\(ledger.location))")
        }
    }

    static func printPlan(_ document: ManifestDocument, stateDir: String?, format: OutputFormat) async throws {
        let (plan, config, digest) = try BackfillRunner.plan(document)
        let ledger = try BackfillRunner.ledger(for: document, override: stateDir)
        let existing = try await ledger.snapshot()
        if format == .json {
            struct Out: Encodable {
                var pipeline: String, id: String, innerMode: String, planDigest: String, configDigest: String
                var ledger: String, started: Bool, chunks: [Chunk]
                struct Chunk: Encodable { var index: Int; var range: String; var pipeline: String; var predicate: String }
                enum CodingKeys: String, CodingKey {
                    case pipeline, id, ledger, started, chunks
                    case innerMode = "inner_mode"
                    case planDigest = "plan_digest"
                    case configDigest = "config_digest"
                }
            }
            let out = Out(
                pipeline: document.name, id: config.id, innerMode: config.innerMode.rawValue, planDigest: plan.digest,
                configDigest: digest, ledger: ledger.location, started: existing != nil,
                chunks: plan.chunks.map {
                    .init(index: $0.index, range: $0.range, pipeline: BackfillRunner.chunkPipelineName(document.name, id: config.id, index: $0.index),
                          predicate: plan.predicate($0))
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
            return
        }
        var lines = [
            "backfill \(config.id) of \(document.name) (dry run: nothing is read or published)",
            "  column \(plan.column) (\(plan.domain.rawValue)), \(plan.chunks.count) chunks, inner mode \(config.innerMode.rawValue), \(config.parallelWorkers) lanes per process",
            "  plan digest \(plan.digest), config digest \(digest)",
            "  ledger: \(ledger.location)" + (existing.map { " (started: \($0.count(.done)) of \($0.chunks.count) done)" } ?? " (not started)"),
        ]
        let shown = plan.chunks.count > 12 ? Array(plan.chunks.prefix(6)) + Array(plan.chunks.suffix(6)) : plan.chunks
        for (n, chunk) in shown.enumerated() {
            if plan.chunks.count > 12, n == 6 { lines.append("    ... \(plan.chunks.count - 12) more") }
            lines.append("    chunk \(chunk.index) \(chunk.range): WHERE \(plan.predicate(chunk))")
        }
        print(lines.joined(separator: "\n"))
    }

    static func statusText(_ s: BackfillLedgerSnapshot, now: Double) -> String {
        let done = s.count(.done)
        let width = 30
        let filled = s.chunks.isEmpty ? width : done * width / s.chunks.count
        var lines = [
            "backfill \(s.id) of \(s.pipeline)\(s.cancelled ? " (cancelled)" : "")",
            "  [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(s.chunks.count) done"
                + ", \(s.count(.running)) running, \(s.count(.failed)) failed, \(s.count(.pending)) pending, \(s.count(.cancelled)) cancelled"
                + "; \(s.takeovers) lease takeovers",
        ]
        let finished = s.chunks.compactMap { r -> Double? in
            guard r.status == .done, let a = r.startedAt, let b = r.finishedAt else { return nil }
            return b - a
        }
        if !finished.isEmpty, done < s.chunks.count {
            let mean = finished.reduce(0, +) / Double(finished.count)
            let lanes = max(1, s.count(.running))
            let left = s.chunks.count - done - s.count(.failed) - s.count(.cancelled)
            lines.append("  ETA about \(Int((mean * Double(left) / Double(lanes)).rounded())) s (\(String(format: "%.1f", mean)) s per chunk, \(lanes) lanes)")
        }
        for r in s.chunks where r.status == .running {
            let age = r.startedAt.map { Int(now - $0) } ?? 0
            let lease = r.leaseUntil.map { $0 < now ? "lease expired \(Int(now - $0)) s ago" : "lease \(Int($0 - now)) s left" } ?? ""
            lines.append("  running chunk \(r.chunk.index) \(r.chunk.range) by \(r.owner ?? "?") for \(age) s, \(lease)")
        }
        for r in s.chunks where r.status == .failed {
            lines.append("  failed chunk \(r.chunk.index) \(r.chunk.range) after \(r.attempts) attempts: \(r.error ?? "unknown")")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ snapshot: BackfillLedgerSnapshot) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(snapshot)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
