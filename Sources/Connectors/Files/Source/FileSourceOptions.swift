import Flow
import Formats

/// What a `FileSource` reads and how it cuts batches.
public struct FileSourceOptions: Sendable {
    /// One local file.
    public var path: String
    public var format: FileFormat
    /// Used when `format` is csv.
    public var csv: CSVOptions
    /// The schema of the file; nil infers it from the first `sampleRecords` records.
    public var schema: Schema?
    /// With a column name, only rows whose value there is strictly greater than the stored cursor are
    /// emitted (see `IncrementalCursor`).
    public var incrementalColumn: String?
    /// A batch is cut once it holds this many rows...
    public var batchRows: Int
    /// ...or this many bytes. Both limits are checked every 64 KiB of input, so a batch may exceed
    /// them by the rows of that much input.
    public var batchBytes: Int
    public var sampleRecords: Int
    /// Bytes per read(2) call.
    public var chunkBytes: Int

    public init(
        path: String,
        format: FileFormat = .csv,
        csv: CSVOptions = CSVOptions(),
        schema: Schema? = nil,
        incrementalColumn: String? = nil,
        batchRows: Int = 65_536,
        batchBytes: Int = 8 << 20,
        sampleRecords: Int = SchemaInference.defaultSampleRecords,
        chunkBytes: Int = 1 << 20
    ) {
        self.path = path
        self.format = format
        self.csv = csv
        self.schema = schema
        self.incrementalColumn = incrementalColumn
        self.batchRows = batchRows
        self.batchBytes = batchBytes
        self.sampleRecords = sampleRecords
        self.chunkBytes = chunkBytes
    }

    /// Throws `DponeError(.manifest)` for unusable settings.
    public func validate() throws {
        guard !path.isEmpty else { throw DponeError(.manifest, "the file source needs a path") }
        guard batchRows > 0, batchBytes > 0, chunkBytes > 0, sampleRecords > 0 else {
            throw DponeError(
                .manifest, "batch_rows, batch_bytes, chunk size and sample size of a file source must be positive",
                context: ["file": path])
        }
        if format == .csv { try csv.validate() }
    }
}
