import Flow

/// The encoder of a sink's format.
public enum RecordEncoder: Sendable {
    case csv(CSVEncoder)
    case jsonl(JSONLinesEncoder)

    public init(format: FileFormat, schema: Schema, csv: CSVOptions) {
        switch format {
        case .csv: self = .csv(CSVEncoder(schema: schema, options: csv))
        case .jsonl: self = .jsonl(JSONLinesEncoder(schema: schema))
        }
    }

    /// What starts every file: the CSV header line, or nothing.
    public func encodeHeader(into out: inout [UInt8]) {
        if case .csv(let encoder) = self { encoder.encodeHeader(into: &out) }
    }

    public func encode(_ batch: Batch, rows: Range<Int>, into out: inout [UInt8]) {
        switch self {
        case .csv(let encoder): encoder.encode(batch, rows: rows, into: &out)
        case .jsonl(let encoder): encoder.encode(batch, rows: rows, into: &out)
        }
    }
}
