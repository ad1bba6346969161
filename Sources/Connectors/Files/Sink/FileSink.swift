import Foundation
import Flow
import Formats

/// Writes batches to local CSV or JSON Lines files, publishing each checkpoint atomically.
///
/// Staged rows go to a temporary file that readers never see; `finalize` fsyncs it, renames it into
/// place and fsyncs the directory:
/// - full_refresh: temp `<path>.dpone-tmp-<attempt>`, renamed over `path`. A checkpoint with no rows
///   still publishes (a header-only CSV / empty JSON Lines file on a first checkpoint).
/// - incremental_append: temp `<dir>/.part-<attempt>.dpone-tmp`, renamed to
///   `<dir>/part-<checkpoint, zero-padded to 8>.<ext>`; a checkpoint with no rows writes no part.
///   Replaying a checkpoint id replaces the same part: no duplicates.
/// Temps left by a crashed earlier attempt are removed on `open`. The sink is an actor that runs on
/// its own thread (its executor is a `DedicatedThread`): all file I/O happens there, never on the
/// cooperative pool, with at most `flushBytes` buffered.
public actor FileSink: SinkOperator {
    public nonisolated let name: String
    public nonisolated let options: FileSinkOptions
    private let thread = DedicatedThread(name: "dpone-file-sink")
    /// Not Sendable: only this actor touches it.
    private let state: FileSinkState

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// - Throws: `DponeError(.manifest)` for invalid options.
    public init(name: String = "file", options: FileSinkOptions) throws {
        try options.validate()
        self.name = name
        self.options = options
        self.state = FileSinkState(options: options)
    }

    deinit { thread.stop() }

    public func open(schema: Schema) async throws { try state.open(schema: schema) }

    public func write(_ batch: Batch) async throws { try state.write(batch) }

    public func finalize(_ context: CheckpointContext) async throws -> SinkCommit { try state.finalize(context.id) }

    public func abort() async { state.abort() }
}

/// The mutable side of a `FileSink`, owned by it (the actor is its isolation).
final class FileSinkState {
    let options: FileSinkOptions
    private let attempt = String(UInt64.random(in: 0...UInt64.max), radix: 16)
    private var encoder: RecordEncoder?
    private var staged: StagedFile?
    /// Rows already published by this sink and carried into the current full-refresh temp.
    private var carriedRows = 0
    private var publishedRows = 0
    private var hasPublished = false

    init(options: FileSinkOptions) {
        self.options = options
    }

    private var directory: String {
        options.strategy == .incrementalAppend ? options.path : FileSystem.directory(of: options.path)
    }

    /// `incremental_append` (a part per checkpoint), else `full_refresh` (one file replaced).
    private var appendsParts: Bool { options.strategy == .incrementalAppend }

    private var tempPath: String {
        appendsParts ? "\(options.path)/.part-\(attempt).dpone-tmp" : "\(options.path).dpone-tmp-\(attempt)"
    }

    /// Whether `name` (in `directory`) is a temp this sink's strategy leaves behind.
    private func isStaleTemp(_ name: String) -> Bool {
        appendsParts
            ? name.hasPrefix(".part-") && name.hasSuffix(".dpone-tmp")
            : name.hasPrefix(FileSystem.lastComponent(of: options.path) + ".dpone-tmp-")
    }

    func open(schema: Schema) throws {
        encoder = RecordEncoder(format: options.format, schema: schema, csv: options.csv)
        try FileSystem.makeDirectories(directory)
        for name in FileSystem.entries(of: directory) where isStaleTemp(name) {
            FileSystem.remove("\(directory)/\(name)")
        }
        if options.strategy == .fullRefresh { try startStaging() }
    }

    func write(_ batch: Batch) throws {
        if encoder == nil { try open(schema: batch.schema) }
        if staged == nil { try startStaging() }
        try staged!.append(batch, encoder: encoder!)
    }

    private func startStaging() throws {
        let encoder = self.encoder ?? RecordEncoder(format: options.format, schema: Schema([]), csv: options.csv)
        var file = try StagedFile(path: tempPath, encoder: encoder, flushBytes: options.flushBytes)
        if options.strategy == .fullRefresh && hasPublished {
            do {
                try file.appendContents(of: options.path, skippingHeaderOf: encoder, rows: publishedRows)
            } catch {
                file.discard()
                throw error
            }
            carriedRows = publishedRows
        } else {
            carriedRows = 0
        }
        staged = file
    }

    func finalize(_ checkpoint: CheckpointID) throws -> SinkCommit {
        guard appendsParts else { return try replaceFile() }
        guard var file = staged else { return SinkCommit() }
        staged = nil
        guard file.rows > 0 else {
            file.discard()
            return SinkCommit()
        }
        // Replaying checkpoint N replaces part N, which is the newest part. A newer part means the
        // state is behind the output (deleted, or another state dir): replacing part N would
        // destroy published rows, so stop and say so.
        if let newest = try newestPart(), newest > checkpoint.rawValue {
            file.discard()
            throw DponeError(
                .state,
                "\(options.path) already holds part \(newest), but the state is at checkpoint \(checkpoint.rawValue - 1): the state was deleted or points elsewhere",
                hint: "restore the state, or use `dpone state reset` (it keeps checkpoint numbering)",
                context: ["file": options.path])
        }
        try publish(&file, as: "\(options.path)/\(Self.partName(checkpoint, options.format))")
        return SinkCommit(inserted: file.rows)
    }

    /// full_refresh: the staged file (every row since the sink opened) replaces `path`.
    private func replaceFile() throws -> SinkCommit {
        if staged == nil {
            if hasPublished { return SinkCommit() }
            try startStaging()
        }
        var file = staged!
        staged = nil
        let inserted = file.rows - carriedRows
        try publish(&file, as: options.path)
        publishedRows = file.rows
        hasPublished = true
        return SinkCommit(inserted: inserted)
    }

    /// fsync, rename into place, fsync the directory; the midFinalize fault point sits between the
    /// fsync and the rename for full refresh and between the rename and the directory fsync for parts.
    private func publish(_ file: inout StagedFile, as target: String) throws {
        do {
            try file.seal()
            if options.strategy == .fullRefresh { FaultPoint.midFinalize.trigger() }
            try FileSystem.rename(file.path, to: target)
        } catch {
            file.discard()
            throw error
        }
        if options.strategy == .incrementalAppend { FaultPoint.midFinalize.trigger() }
        try FileSystem.syncDirectory(directory)
    }

    func abort() {
        staged?.discard()
        staged = nil
    }

    /// The highest checkpoint number among the published parts, if any.
    private func newestPart() throws -> UInt64? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: options.path)) ?? []
        return names.compactMap { name -> UInt64? in
            guard name.hasPrefix("part-"), let dot = name.firstIndex(of: ".") else { return nil }
            return UInt64(name[name.index(name.startIndex, offsetBy: 5)..<dot])
        }.max()
    }

    /// `part-00000042.csv`
    static func partName(_ checkpoint: CheckpointID, _ format: FileFormat) -> String {
        let digits = String(checkpoint.rawValue)
        return "part-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + "." + format.fileExtension
    }
}
