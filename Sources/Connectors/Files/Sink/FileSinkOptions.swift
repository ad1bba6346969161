import Flow
import Formats

/// Where and how a `FileSink` writes.
public struct FileSinkOptions: Sendable {
    public var path: String
    public var format: FileFormat
    /// Used when `format` is csv (`hasHeader` writes a header line in every file).
    public var csv: CSVOptions
    /// How each checkpoint is published (`supportedModes`):
    /// - `full_refresh`: `path` is the output file, atomically replaced on every checkpoint by a file
    ///   holding every row written since the sink opened. Re-running replaces the file.
    /// - `incremental_append`: `path` is a directory; each checkpoint's rows become
    ///   `part-<checkpoint, 8 digits>.<ext>`. A replayed checkpoint replaces its own part, so replays
    ///   never duplicate rows.
    public var strategy: LoadMode
    public static let supportedModes: [LoadMode] = [.fullRefresh, .incrementalAppend]
    /// Encoded bytes buffered before a write(2); bounds the sink's memory.
    public var flushBytes: Int

    public init(
        path: String,
        format: FileFormat = .csv,
        csv: CSVOptions = CSVOptions(),
        strategy: LoadMode = .fullRefresh,
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
        guard Self.supportedModes.contains(strategy) else {
            throw DponeError(
                .manifest, "the files sink supports full_refresh and incremental_append, not \(strategy.rawValue)")
        }
        if format == .csv { try csv.validate() }
    }
}
