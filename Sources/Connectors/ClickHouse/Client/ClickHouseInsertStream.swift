/// The body of one running `INSERT ... FORMAT X`, written as data arrives (from
/// `ClickHouseClient.openInsert`).
///
/// Contract:
/// - `write` any number of times (bytes of the statement's format, split anywhere; with
///   `decompress` whole compressed blocks in order), then exactly one of `finish()` (ends the body,
///   waits for the server's verdict and returns it) or `abort(_:)`. One writer at a time.
/// - `write` returns once its bytes are buffered; it suspends (no thread blocked) while the buffer
///   holds `bufferCapacity` bytes the upload has not taken yet, so memory stays bounded.
/// - When the server rejects the insert mid-stream (bad data, unknown table...), the next `write`
///   or `finish()` throws its `ClickHouseError`.
/// - `abort` (or dropping the stream without `finish`) cuts the upload: the server fails the insert.
///   ClickHouse inserts are atomic per block, not per request: blocks parsed before the abort may
///   be stored, so load into staging tables.
/// - Cancelling a task suspended in `write` throws `CancellationError` there; call `abort` then.
public final class ClickHouseInsertStream: Sendable {
    private let pipe: InsertBodyPipe
    private let request: Task<ClickHouseResponseInfo, any Error>

    init(pipe: InsertBodyPipe, request: Task<ClickHouseResponseInfo, any Error>) {
        self.pipe = pipe
        self.request = request
    }

    deinit {
        pipe.abort(ClickHouseError(kind: .cancelled, message: "an insert stream was dropped without finish()"))
    }

    /// Appends `bytes` to the body (copied); see the type's contract.
    public func write(_ bytes: [UInt8]) async throws {
        try await pipe.write(bytes)
    }

    /// Appends a copy of `bytes` to the body.
    public func write(_ bytes: UnsafeRawBufferPointer) async throws {
        try await pipe.write(Array(bytes))
    }

    /// Ends the body and returns the server's answer (or throws its error).
    @discardableResult
    public func finish() async throws -> ClickHouseResponseInfo {
        pipe.finish()
        return try await request.value
    }

    /// Aborts the upload with `reason` and waits until the request is over (the client is then free
    /// for other calls). Idempotent.
    public func abort(_ reason: String = "aborted by the writer") async {
        pipe.abort(ClickHouseError(kind: .cancelled, message: "insert aborted: \(reason)"))
        _ = try? await request.value
    }
}
