import Flow
import Formats

/// How a file sink publishes each checkpoint.
public enum FileLoadStrategy: String, Sendable, Codable, CaseIterable {
    /// `path` is the output file, atomically replaced on every checkpoint by a file holding every row
    /// written since the sink opened. Re-running replaces the file.
    case fullRefresh = "full_refresh"
    /// `path` is a directory; each checkpoint's rows become `part-<checkpoint, 8 digits>.<ext>`.
    /// A replayed checkpoint replaces its own part, so replays never duplicate rows.
    case incrementalAppend = "incremental_append"
}

/// Where and how a `FileSink` writes.
public struct FileSinkOptions: Sendable {
    public var path: String
    public var format: FileFormat
    /// Used when `format` is csv (`hasHeader` writes a header line in every file).
    public var csv: CSVOptions
    public var strategy: FileLoadStrategy
    /// Encoded bytes buffered before a write(2); bounds the sink's memory.
    public var flushBytes: Int

    public init(
        path: String,
        format: FileFormat = .csv,
        csv: CSVOptions = CSVOptions(),
        strategy: FileLoadStrategy = .fullRefresh,
        flushBytes: Int = 1 << 20
    ) {
        self.path = path
        self.format = format
        self.csv = csv
        self.strategy = strategy
        self.flushBytes = flushBytes
    }

    public func validate() throws {
        guard !path.isEmpty else { throw DponeError(.manifest, "the file sink needs a path") }
        guard flushBytes > 0 else { throw DponeError(.manifest, "flush size of a file sink must be positive") }
        if format == .csv { try csv.validate() }
    }
}
