import ConnectorKit
import Flow
import Formats
import Foundation
import Manifest

/// The files connector: CSV and JSON Lines on the local file system, as a source (one file) and a
/// sink (one file replaced, or a directory of part files).
public struct FilesDescriptor: ConnectorDescriptor {
    public init() {}

    public var type: EndpointType { .files }
    /// Files have no query language: the pipeline applies `columns` and `custom_predicate`.
    public var sourceAppliesProjection: Bool { false }
    public func describe(source: SourceConfig) -> String { "files \(source.path ?? "")" }
    public func describe(sink: SinkConfig) -> String { "files \(sink.path ?? "")" }

    public func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        try request.refuseContinuous()
        let config = request.config
        guard let path = config.path, let file = config.options.file else {
            throw DponeError(.manifest, "a files source needs a path")
        }
        return try FileSource(
            name: "files:\(path)",
            options: FileSourceOptions(
                path: path, format: file.format == .jsonl ? .jsonl : .csv, csv: Self.csvOptions(file),
                schema: config.options.schema, incrementalColumn: config.options.incrementalColumn,
                batchRows: config.options.batchRows ?? 65_536, batchBytes: 4 << 20))
    }

    public func makeSink(_ request: SinkRequest) throws -> any SinkOperator {
        let config = request.config
        guard let path = config.path, let file = config.options.file else {
            throw DponeError(.manifest, "a files sink needs a path")
        }
        return try FileSink(
            name: "files:\(path)",
            options: FileSinkOptions(
                path: path, format: file.format == .jsonl ? .jsonl : .csv, csv: Self.csvOptions(file),
                strategy: config.strategy.mode))
    }

    public func dryRun(_ request: SinkRequest, nextCheckpoint: UInt64, columns: () async throws -> [String]) async throws -> SinkDryRun? {
        let path = request.config.path ?? ""
        if request.config.strategy.mode == .incrementalAppend {
            return SinkDryRun(
                staging: "\(path)/.part-<attempt>.dpone-tmp",
                finalizer: [
                    "fsync the staged part", "rename it to \(path)/part-\(String(format: "%08d", nextCheckpoint)).<ext>",
                    "fsync \(path)",
                ])
        }
        return SinkDryRun(
            staging: "\(path).dpone-tmp-<attempt>", finalizer: ["fsync the staged file", "rename it over \(path)", "fsync its directory"])
    }

    static func csvOptions(_ file: FileOptions) -> CSVOptions {
        CSVOptions(
            delimiter: file.delimiter.asciiValue ?? UInt8(ascii: ","), quote: file.quote.asciiValue ?? UInt8(ascii: "\""),
            nullToken: file.nullToken, hasHeader: file.header)
    }
}

extension EndpointType {
    /// The manifest's `type: files`.
    public static let files: EndpointType = "files"
}
