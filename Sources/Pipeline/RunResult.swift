import Flow
import Foundation

/// The outcome of one `dpone batch` run; `--format json` prints it as one document.
public struct RunResult: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        case succeeded
        case failed
    }

    public var status: Status
    public var pipeline: String
    public var runID: String
    public var loadID: String
    public var source: String
    public var sink: String
    public var strategy: String
    public var extractedRows: Int
    public var loadedRows: Int
    public var insertedRows: Int
    public var updatedRows: Int
    public var deletedRows: Int
    public var checkpoints: Int
    public var durationSeconds: Double
    public var rowsPerSecond: Double
    public var megabytesPerSecond: Double
    public var peakRSSBytes: Int
    /// The state committed by this run (nil when nothing was committed).
    public var state: PipelineState?
    /// Per graph edge: what crossed it and how long its producer waited on backpressure.
    public var edges: [Edge] = []
    public var error: String?
    public var errorKind: String?
    /// Set on a failure: whether it may pass when tried again unchanged (`isTransientFailure`);
    /// `dpone stream` retries those with backoff.
    public var transient: Bool?
    /// `dpone stream`: the failed attempts retried before this result (nil: none).
    public var retries: Int?
    /// Set when the pipeline's state was missing and a sink's target recorded published checkpoints:
    /// what the run resumed from instead of starting over.
    public var recovery: StateRecovery?
    /// Changes this run made to the target's structure (`table.column: old -> new`); nil: none.
    public var schemaChanges: [String]?
    /// What the sinks compared after publishing (staged rows against the target's window); nil: no
    /// sink reconciles.
    public var reconciliation: [String]?
    /// A run with `BatchOptions.publishOnce` that found its pipeline already published (a backfill
    /// chunk whose lane died after publishing): nothing was read or written.
    public var alreadyPublished: Bool?
    /// `mode: backfill`: what happened to the chunks.
    public var backfill: BackfillSummary?

    enum CodingKeys: String, CodingKey {
        case status, pipeline, source, sink, strategy, checkpoints, state, error, edges, recovery, backfill
        case alreadyPublished = "already_published"
        case schemaChanges = "schema_changes"
        case reconciliation
        case runID = "run_id"
        case loadID = "load_id"
        case extractedRows = "extracted_rows"
        case loadedRows = "loaded_rows"
        case insertedRows = "inserted_rows"
        case updatedRows = "updated_rows"
        case deletedRows = "deleted_rows"
        case durationSeconds = "duration_seconds"
        case rowsPerSecond = "rows_per_second"
        case megabytesPerSecond = "megabytes_per_second"
        case peakRSSBytes = "peak_rss_bytes"
        case errorKind = "error_kind"
        case transient, retries
    }

    public var exitCode: Int32 {
        switch status {
        case .succeeded: 0
        case .failed: errorKind == DponeError.Kind.manifest.rawValue || errorKind == DponeError.Kind.usage.rawValue ? 2 : 1
        }
    }

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public func textSummary() -> String {
        switch status {
        case .succeeded:
            let mb = String(format: "%.1f", Double(peakRSSBytes) / 1_048_576)
            return """
                \(pipeline): succeeded (\(source) -> \(sink), \(strategy))
                  rows: extracted \(extractedRows), loaded \(loadedRows) (inserted \(insertedRows), updated \(updatedRows), deleted \(deletedRows))
                  time: \(String(format: "%.2f", durationSeconds)) s, \(Int(rowsPerSecond)) rows/s, \(String(format: "%.1f", megabytesPerSecond)) MB/s, peak RSS \(mb) MB
                  state: \(state.map { "checkpoint \($0.checkpoint) committed" } ?? "unchanged")\(backfill.map { "\n  backfill: " + $0.line } ?? "")\(recovery.map { "\n  recovery: \($0.line)" } ?? "")\(schemaChanges.map { "\n  schema: " + $0.joined(separator: "; ") } ?? "")\(reconciliation.map { "\n  reconciliation: " + ($0.count > 3 ? $0.suffix(3).joined(separator: "; ") + " (last 3 of \($0.count))" : $0.joined(separator: "; ")) } ?? "")
                  run \(runID), load \(loadID)
                """
        case .failed:
            return """
                \(pipeline): failed (\(source) -> \(sink), \(strategy))
                  error: \(error ?? "unknown")\(backfill.map { "\n  backfill: " + $0.line } ?? "")
                  state: \(state.map { "checkpoint \($0.checkpoint) committed before the failure" } ?? "unchanged")
                  run \(runID), load \(loadID)
                """
        }
    }
}

/// How a run found its place when the pipeline's state was missing (a lost state file, a new
/// container without the state volume) but a sink's target recorded published checkpoints.
public struct StateRecovery: Sendable, Codable, Equatable {
    /// The newest checkpoint the target records; the run numbers its checkpoints after it.
    public var checkpoint: UInt64
    /// The sink whose target recorded it.
    public var sink: String
    /// Whether the source positions recorded with it were restored (the run then reads on from
    /// them, as if the state had not been lost); false when the target recorded none.
    public var positionsRestored: Bool

    public init(checkpoint: UInt64, sink: String, positionsRestored: Bool) {
        self.checkpoint = checkpoint
        self.sink = sink
        self.positionsRestored = positionsRestored
    }

    enum CodingKeys: String, CodingKey {
        case checkpoint, sink
        case positionsRestored = "positions_restored"
    }

    public var line: String {
        "state missing; \(sink) records checkpoint \(checkpoint) as published: numbering continues after it"
            + (positionsRestored ? ", its source positions restored" : ", no positions recorded (the source is read from the start)")
    }
}

extension RunResult {
    /// One edge of the graph (`source->transform`, ..., `->sinks`).
    public struct Edge: Sendable, Codable {
        public var name: String
        public var batches: Int
        public var rows: Int
        public var bytes: Int
        /// Seconds the producer spent suspended because the channel was full.
        public var blockedSeconds: Double
        /// The most bytes the channel held at once.
        public var peakBufferedBytes: Int

        public init(_ s: EdgeMetrics.Snapshot) {
            name = s.name
            batches = s.batches
            rows = s.rows
            bytes = s.bytes
            blockedSeconds = Double(s.blockedNanoseconds) / 1e9
            peakBufferedBytes = s.peakBufferedBytes
        }

        enum CodingKeys: String, CodingKey {
            case name, batches, rows, bytes
            case blockedSeconds = "blocked_seconds"
            case peakBufferedBytes = "peak_buffered_bytes"
        }
    }
}

/// A progress reading, about every 250 ms while a run is going.
public struct ProgressSample: Sendable {
    public var rows: Int
    public var bytes: Int
    public var elapsedSeconds: Double

    public var line: String {
        let rate = elapsedSeconds > 0 ? Double(rows) / elapsedSeconds : 0
        let mbps = elapsedSeconds > 0 ? Double(bytes) / 1_048_576 / elapsedSeconds : 0
        return "\(rows) rows  \(Int(rate)) rows/s  \(String(format: "%.1f", mbps)) MB/s  \(String(format: "%.0f", elapsedSeconds)) s"
    }
}
