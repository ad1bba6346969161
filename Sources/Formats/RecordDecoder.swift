import Flow

/// A streaming decoder of one file format: bytes in, rows appended to a batch builder.
///
/// Contract: `decode(chunk:into:)` accepts chunks of any size, in file order; rows are appended only
/// when complete (a row split across chunks is appended by the call that completes it). `finish`
/// ends the input and appends the last row. The builder MUST have been created with the decoder's
/// schema; the caller may `finish()` it (cut a batch) between calls.
public protocol RecordDecoder: Sendable {
    var schema: Schema { get }
    mutating func decode(chunk: UnsafeRawBufferPointer, into batch: inout BatchBuilder) throws
    mutating func finish(into batch: inout BatchBuilder) throws
}
