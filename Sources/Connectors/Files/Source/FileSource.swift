import ConnectorKit
import Flow
import Formats

/// Reads one local CSV or JSON Lines file as a bounded source.
///
/// The file is read in `chunkBytes` chunks on a dedicated thread (reads are blocking I/O), decoded
/// straight into column builders and sent with `sendBlocking` as batches of about `batchRows` rows /
/// `batchBytes` bytes; memory stays bounded by one chunk, one batch and what the output channel
/// holds, whatever the file size. After the last batch the source emits one checkpoint whose
/// positions are `{"file": path, "rows": n}`, or with `incrementalColumn` the cursor state
/// described by `IncrementalCursor`. Cancelling the task stops the read at the next chunk.
public actor FileSource: SourceOperator {
    public nonisolated let name: String
    public nonisolated let options: FileSourceOptions
    /// The schema given or inferred, computed once.
    private var resolvedSchema: Schema?

    /// - Throws: `DponeError(.manifest)` for invalid options.
    public init(name: String = "file", options: FileSourceOptions) throws {
        try options.validate()
        self.name = name
        self.options = options
    }

    public func outputSchema() async throws -> Schema {
        if let schema = options.schema ?? resolvedSchema { return schema }
        let options = self.options
        let schema = try await DedicatedThread.runDetached(name: "dpone-file-sample") { cancel in
            try Self.inferSchema(options, cancel: cancel)
        }
        resolvedSchema = schema
        return schema
    }

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        let schema = try await outputSchema()
        let cursor = try options.incrementalColumn.map {
            try IncrementalCursor(column: $0, schema: schema, resumeFrom: resumeFrom, sourceName: options.path)
        }
        let job = FileReadJob(options: options, schema: schema, cursor: cursor)
        try await DedicatedThread.runDetached(name: "dpone-file-read") { cancel in
            try job.run(into: output, cancel: cancel)
        }
    }

    /// Files have no upstream position to release.
    public func acknowledge(_ checkpoint: CheckpointID) async throws {}

    private static func inferSchema(_ options: FileSourceOptions, cancel: CancellationFlag) throws -> Schema {
        switch options.format {
        case .csv:
            return try sample(
                CSVSchemaSampler(options: options.csv, sampleRecords: options.sampleRecords, sourceName: options.path),
                options, cancel)
        case .jsonl:
            return try sample(
                JSONLinesSchemaSampler(sampleRecords: options.sampleRecords, sourceName: options.path), options, cancel)
        }
    }

    private static func sample<S: SchemaSampler>(
        _ sampler: S, _ options: FileSourceOptions, _ cancel: CancellationFlag
    ) throws -> Schema {
        var sampler = sampler
        let file = try FileDescriptor.openForReading(options.path)
        defer { file.close() }
        var buffer = [UInt8](repeating: 0, count: options.chunkBytes)
        while !sampler.isSatisfied {
            try cancel.check("sampling \(options.path)")
            let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try sampler.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return try sampler.finish()
    }
}

/// The read loop of one `FileSource.run`, executed on its dedicated thread.
struct FileReadJob: Sendable {
    /// Input handed to the decoder at a time; batch limits are checked between slices.
    static let sliceBytes = 64 << 10

    let options: FileSourceOptions
    let schema: Schema
    let cursor: IncrementalCursor?

    func run(into output: any SourceOutput, cancel: CancellationFlag) throws {
        let required: Set<String> = options.incrementalColumn.map { [$0] } ?? []
        switch options.format {
        case .csv:
            try read(
                CSVDecoder(schema: schema, options: options.csv, sourceName: options.path, requiredColumns: required),
                into: output, cancel: cancel)
        case .jsonl:
            try read(
                JSONLinesDecoder(schema: schema, sourceName: options.path, requiredColumns: required),
                into: output, cancel: cancel)
        }
    }

    private func read<D: RecordDecoder>(_ decoder: D, into output: any SourceOutput, cancel: CancellationFlag) throws {
        var decoder = decoder
        var cursor = self.cursor
        var rows = 0
        let file = try FileDescriptor.openForReading(options.path)
        defer { file.close() }
        var buffer = [UInt8](repeating: 0, count: options.chunkBytes)
        var builder = BatchBuilder(schema: schema, reservingCapacity: min(options.batchRows, 65_536))
        let batchRows = options.batchRows
        let batchBytes = options.batchBytes

        func emit() throws {
            guard builder.rowCount > 0 else { return }
            var batch = builder.finish()
            if cursor != nil { batch = cursor!.filter(batch) }
            guard batch.rowCount > 0 else { return }
            rows += batch.rowCount
            try output.sendBlocking(batch)
        }

        while true {
            try cancel.check("reading \(options.path)")
            let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { raw in
                var offset = 0
                while offset < n {
                    let end = min(n, offset + Self.sliceBytes)
                    try decoder.decode(chunk: UnsafeRawBufferPointer(rebasing: raw[offset..<end]), into: &builder)
                    if builder.rowCount >= batchRows || builder.byteCount >= batchBytes { try emit() }
                    offset = end
                }
            }
        }
        try decoder.finish(into: &builder)
        try emit()
        let positions = cursor?.positions ?? .object(["file": .string(options.path), "rows": .int(Int64(rows))])
        // Without a stored cursor bound every record was read: a complete copy of the file.
        try output.checkpointBlocking(positions: positions, complete: cursor?.lowerBound == nil)
    }
}
