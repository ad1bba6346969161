import Flow
import Synchronization

/// A client of one ClickHouse server's HTTP interface, over one reused libcurl easy handle
/// (keep-alive) driven by a dedicated OS thread the client owns.
///
/// - Every libcurl call runs on that thread; no method blocks a Swift cooperative thread. Requests of
///   one client run one at a time, in submission order: use one client per concurrent stream.
/// - One statement per request (ClickHouse's HTTP interface has no multi-statement requests).
/// - Credentials: taken out of the URL and sent as `X-ClickHouse-User` / `X-ClickHouse-Key` headers;
///   never in URLs, log lines or errors (which show `endpoint.redacted`).
/// - Retries: only requests marked idempotent (reads by default; `execute(_:idempotent: true)` for
///   DDL with IF [NOT] EXISTS and the like) are retried, on connection failures and overload codes,
///   with exponential backoff and jitter (see `ClickHouseConfiguration`). Inserts are never retried.
/// - Cancelling the awaiting task aborts the request (the server sees the connection close).
/// - Errors are `ClickHouseError`s (`dponeError()` converts), except that an error thrown by the
///   caller's own callback (chunk consumer, body producer) is rethrown as it is.
/// - `close()` ends the connection and the thread; a client dropped without it is closed by `deinit`.
public final class ClickHouseClient: Sendable {
    public let endpoint: ClickHouseEndpoint
    public let configuration: ClickHouseConfiguration
    let thread: DedicatedThread
    let connection = CurlConnection()
    private let state = Mutex(State())

    private struct State {
        var closed = false
        /// The body pipe of the open insert stream (at most one per client).
        var openInsert: InsertBodyPipe?
        var serverInfo: ClickHouseServerInfo?
    }

    /// Parses the URL of `configuration` and starts the client's thread; no request is sent yet
    /// (the first request connects). Throws a `ClickHouseError` for an unusable URL.
    public init(_ configuration: ClickHouseConfiguration) throws {
        self.endpoint = try ClickHouseEndpoint(configuration.url)
        self.configuration = configuration
        self.thread = DedicatedThread(name: configuration.threadName)
    }

    /// `init(ClickHouseConfiguration(url: url))`.
    public convenience init(url: String) throws {
        try self.init(ClickHouseConfiguration(url: url))
    }

    deinit {
        let closed = state.withLock { $0.closed }
        if !closed {
            let connection = self.connection
            thread.submit { connection.close() }
            thread.stop()
        }
    }

    /// `GET /ping`: succeeds when the server answers `Ok.`. Retried like an idempotent request.
    public func ping() async throws {
        let body = ResponseBodyCollector()
        _ = try await send(
            ClickHouseRequest(sql: "", body: .get(path: "ping"), settings: [:], idempotent: true), onData: body.append)
        let text = String(decoding: body.bytes, as: UTF8.self).strippingWhitespace()
        guard text == "Ok." else {
            throw ClickHouseError(
                kind: .server, message: "unexpected answer to /ping: \(ClickHouseError.abbreviate(text))",
                server: endpoint.redacted)
        }
    }

    /// The server's version and capabilities (`SELECT version()`), cached after the first call
    /// (`refresh: true` asks again).
    public func serverInfo(refresh: Bool = false) async throws -> ClickHouseServerInfo {
        if !refresh, let cached = state.withLock({ $0.serverInfo }) { return cached }
        let bytes = try await query("SELECT version()")
        let text = String(decoding: bytes, as: UTF8.self).strippingWhitespace()
        guard let version = ClickHouseVersion(text) else {
            throw ClickHouseError(
                kind: .server, message: "unexpected answer to SELECT version(): \(ClickHouseError.abbreviate(text))",
                server: endpoint.redacted)
        }
        let info = ClickHouseServerInfo(version: version, server: endpoint.redacted)
        state.withLock { $0.serverInfo = info }
        return info
    }

    /// Runs one statement and discards its output. `idempotent: true` allows retries (say so only
    /// when running it twice is harmless: DDL with IF [NOT] EXISTS, SET-like statements...).
    public func execute(_ sql: String, settings: [String: String] = [:], idempotent: Bool = false) async throws {
        _ = try await send(
            ClickHouseRequest(sql: sql, body: .sql, settings: settings, idempotent: idempotent), onData: { _ in })
    }

    /// Runs one statement and returns its whole response body in `format` (ClickHouse's
    /// `default_format`; a FORMAT clause in `sql` wins). For small results: everything is in memory.
    public func query(
        _ sql: String, format: String = "TabSeparated", settings: [String: String] = [:], idempotent: Bool = true
    ) async throws -> [UInt8] {
        var settings = settings
        settings["default_format"] = format
        let body = ResponseBodyCollector()
        _ = try await send(
            ClickHouseRequest(sql: sql, body: .sql, settings: settings, idempotent: idempotent), onData: body.append)
        return body.bytes
    }

    /// Runs one statement and returns its rows parsed from TabSeparated (NULL as nil). For metadata
    /// and small results.
    public func queryNullableRows(_ sql: String, settings: [String: String] = [:]) async throws -> [[String?]] {
        ClickHouseTabSeparated.parse(try await query(sql, format: "TabSeparated", settings: settings))
    }

    /// `queryNullableRows` with NULL read as the empty string: for results without NULLs (metadata).
    public func queryRows(_ sql: String, settings: [String: String] = [:]) async throws -> [[String]] {
        try await queryNullableRows(sql, settings: settings).map { $0.map { $0 ?? "" } }
    }

    /// Runs one statement and hands its response body to `chunk` as it arrives, on the client's
    /// thread, in order (buffers are valid only during the call; sizes are arbitrary, up to 256 KiB).
    ///
    /// - `chunk` may block (e.g. a decoder handing batches on with `sendBlocking`): the server then
    ///   waits; time spent in `chunk` does not count towards the read timeout.
    /// - When `chunk` throws, the transfer is aborted and its error rethrown.
    /// - Retried (when `idempotent`) only while no byte has reached `chunk`.
    /// - A server that fails after it started sending (old servers append `Code: N...` to the
    ///   body) makes the call throw that exception after the last chunk; a Native decoder fed such a
    ///   tail may fail first with its own error.
    /// - `format` sets `default_format` when given (a FORMAT clause in `sql` wins).
    @discardableResult
    public func streamQuery(
        _ sql: String, format: String? = nil, settings: [String: String] = [:], idempotent: Bool = true,
        chunk: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
    ) async throws -> ClickHouseResponseInfo {
        var settings = settings
        if let format { settings["default_format"] = format }
        return try await send(
            ClickHouseRequest(sql: sql, body: .sql, settings: settings, idempotent: idempotent), onData: chunk)
    }

    /// Runs `INSERT ... FORMAT X` (the statement, without data) with a body pulled from `body` on the
    /// client's thread and sent with chunked transfer encoding.
    ///
    /// - `body` fills the buffer it is given from its start and returns the number of bytes written
    ///   (at most the buffer's size); 0 ends the body. It may block while it waits for data; memory
    ///   stays bounded by what it holds plus libcurl's 1 MiB upload buffer.
    /// - `decompress: true` adds `decompress=1`: the body is ClickHouse's compressed block format
    ///   (LZ4/ZSTD blocks with CityHash128 checksums), produced by the caller's codec.
    /// - When `body` throws, the upload is aborted and its error rethrown. The server has then
    ///   possibly stored the blocks it had parsed (ClickHouse inserts are atomic per block, not per
    ///   request): load into staging tables.
    /// - Never retried.
    @discardableResult
    public func insert(
        _ sql: String, settings: [String: String] = [:], decompress: Bool = false,
        body: @escaping @Sendable (UnsafeMutableRawBufferPointer) throws -> Int
    ) async throws -> ClickHouseResponseInfo {
        try await send(insertRequest(sql, settings: settings, decompress: decompress, body: body), onData: { _ in })
    }

    /// `insert` with the whole body in memory (small loads, tests).
    @discardableResult
    public func insert(
        _ sql: String, data: [UInt8], settings: [String: String] = [:], decompress: Bool = false
    ) async throws -> ClickHouseResponseInfo {
        let reader = FixedBodyReader(data)
        return try await insert(sql, settings: settings, decompress: decompress, body: reader.read)
    }

    /// Starts `INSERT ... FORMAT X` and returns the stream its body is written to as data arrives
    /// (see `ClickHouseInsertStream`): for sinks that receive batches asynchronously.
    ///
    /// While the stream is open the client's thread is busy sending it: other calls on this client
    /// fail at once with a `.client` error instead of waiting (which could deadlock the writer).
    /// `bufferCapacity` bounds the bytes buffered between `write` and the upload.
    public func openInsert(
        _ sql: String, settings: [String: String] = [:], decompress: Bool = false, bufferCapacity: Int = 4 << 20
    ) throws -> ClickHouseInsertStream {
        let pipe = InsertBodyPipe(capacity: bufferCapacity)
        try state.withLock { s in
            try checkUsable(s, internalRequest: false, sql: sql)
            s.openInsert = pipe
        }
        let request = insertRequest(sql, settings: settings, decompress: decompress, body: pipe.read)
        let task = Task {
            // The client is free again before the writer can learn the outcome through the pipe.
            let result: Result<ClickHouseResponseInfo, any Error>
            do {
                result = .success(try await self.send(request, internalRequest: true, onData: { _ in }))
            } catch {
                result = .failure(error)
            }
            self.state.withLock { $0.openInsert = nil }
            switch result {
            case .success:
                pipe.close(ClickHouseError(kind: .client, message: "the insert request already finished"))
            case .failure(let error):
                pipe.close(error)
            }
            return try result.get()
        }
        return ClickHouseInsertStream(pipe: pipe, request: task)
    }

    /// Ends the connection and stops the thread. Idempotent; later calls fail with a `.client` error.
    /// An insert stream still open is aborted first.
    public func close() async {
        let (first, openInsert) = state.withLock { s in
            defer { s.closed = true }
            return (!s.closed, s.openInsert)
        }
        guard first else { return }
        openInsert?.abort(ClickHouseError(kind: .cancelled, message: "the client was closed during an insert"))
        let connection = self.connection
        try? await thread.run { connection.close() }
        thread.stop()
    }

    private func insertRequest(
        _ sql: String, settings: [String: String], decompress: Bool,
        body: @escaping @Sendable (UnsafeMutableRawBufferPointer) throws -> Int
    ) -> ClickHouseRequest {
        var settings = settings
        if decompress { settings["decompress"] = "1" }
        return ClickHouseRequest(sql: sql, body: .stream(body), settings: settings, idempotent: false)
    }

    /// Throws when the client is closed, or an insert stream holds its thread (unless the request is
    /// that stream's own).
    func checkUsable(internalRequest: Bool, sql: String) throws {
        try state.withLock { try checkUsable($0, internalRequest: internalRequest, sql: sql) }
    }

    private func checkUsable(_ s: borrowing State, internalRequest: Bool, sql: String) throws {
        let (closed, busy) = (s.closed, s.openInsert != nil)
        if closed {
            throw ClickHouseError(kind: .client, message: "the client is closed", sql: sql, server: endpoint.redacted)
        }
        if busy && !internalRequest {
            throw ClickHouseError(
                kind: .client, message: "an insert stream is open on this client; finish or abort it first",
                sql: sql, server: endpoint.redacted, hint: "use a second ClickHouseClient for concurrent requests")
        }
    }
}

/// Collects a response body on the client thread; read after the request completed.
final class ResponseBodyCollector: @unchecked Sendable {
    private(set) var bytes: [UInt8] = []

    func append(_ data: UnsafeRawBufferPointer) { bytes.append(contentsOf: data) }
}

/// Serves a fixed byte array to a body producer on the client thread.
final class FixedBodyReader: @unchecked Sendable {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(buffer.count, bytes.count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
        position += n
        return n
    }
}
