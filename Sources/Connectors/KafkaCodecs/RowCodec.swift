import Flow

/// A payload that does not decode (or encode) under its schema: what is wrong and where, as a field
/// path (`order.items[2].price`). Never carries payload bytes, so it is safe to log; the Kafka source
/// adds topic, partition and offset.
public struct CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// The field path inside the message; empty for the message as a whole.
    public var path: String

    public init(_ message: String, path: String = "") {
        self.message = message
        self.path = path
    }

    /// The same error one level further out (`items` + `[2].price`).
    public func within(_ outer: String) -> CodecError {
        CodecError(message, path: path.isEmpty ? outer : (path.hasPrefix("[") ? outer + path : outer + "." + path))
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Decodes payloads of one schema into rows of column builders, one row per payload, straight from
/// the bytes (no per-row dictionaries on the data path).
public protocol RowDecoder: Sendable {
    /// The columns a payload becomes, in order (`columns` in `decode` matches it one to one).
    var schema: Schema { get }
    /// Appends exactly one value to every builder (one row), or throws a `CodecError`. After a throw
    /// the builders may hold part of the row: the caller takes it back with `ColumnBuilder.truncate`.
    func decode(_ payload: UnsafeRawBufferPointer, into columns: inout [ColumnBuilder]) throws
}

/// Encodes rows of batches into payloads of one schema.
public protocol RowEncoder: Sendable {
    /// Appends the encoding of `batch`'s row `row` to `out`, or throws a `CodecError`.
    func encode(_ batch: Batch, row: Int, into out: inout [UInt8]) throws
}
