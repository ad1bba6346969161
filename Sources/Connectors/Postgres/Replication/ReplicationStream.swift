import CPostgres
import Flow
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A logical replication connection (`replication=database`) streaming `pgoutput` changes.
///
/// Life cycle: `connect` → optionally `identifySystem` / `createSlot` → `startReplication` →
/// `receive` repeatedly, reporting progress with `confirm` / `sendStatusUpdate` → `stopReplication`
/// (back to command mode, e.g. to `dropSlot`) → `close`.
///
/// - Every libpq call runs on the connection's own `DedicatedThread`, never on Swift's cooperative
///   pool. Calls are serialized; use one stream from one task at a time.
/// - The session is opened with `DateStyle=ISO`, `TimeZone=UTC`, `bytea_output=hex`,
///   `IntervalStyle=postgres` and `extra_float_digits=3`: the text forms `PgOutputRowBuilder` parses.
///   These settings win over an `options` parameter of the URL.
/// - Progress: the server may discard WAL up to the `flushed` position the client reports (the slot's
///   `confirmed_flush_lsn`). The stream only ever reports what the caller declared durable with
///   `confirm(flushed:)` / `sendStatusUpdate(flushed:)` (the highest such value), in periodic status
///   updates, in answers to keepalives that request one, and on demand. Confirm a transaction with
///   its commit's `endLSN` once its changes are durable at the destination.
/// - While streaming, the connection thread sends the periodic status update itself between calls
///   (`DedicatedThread.setIdleJob`), so a caller that does not receive for a while (a source blocked
///   behind a slow sink) keeps its connection past `wal_sender_timeout`.
public final class ReplicationStream: Sendable {
    let handle: PostgresConnectionHandle
    /// Streaming state; touched on the connection thread only.
    private let state: StreamState
    /// The highest position the caller declared durable.
    private let durable = Mutex(LSN.invalid)
    private let stopRequested = Atomic<Bool>(false)
    private let closed = Mutex(false)

    /// The connection string with its password replaced by `***`.
    public var redactedURL: String { handle.target.redacted }

    private init(handle: PostgresConnectionHandle) {
        self.handle = handle
        self.state = StreamState()
    }

    deinit {
        let handle = self.handle
        if !closed.withLock({ $0 }) {
            handle.thread.submit { handle.finish() }
            handle.thread.stop()
        }
    }

    /// Opens a replication connection to the database of `url` (any libpq connection string).
    ///
    /// - Parameter settings: further session settings (`-c name=value` in the startup `options`), e.g.
    ///   `["wal_sender_timeout": "30s"]`.
    /// - Throws: `PostgresError` (SQLSTATE 42501 or 28000 when the role may not replicate or
    ///   pg_hba.conf has no `replication` line for it).
    public static func connect(
        url: String, applicationName: String = "dpone", settings: [String: String] = [:]
    ) async throws -> ReplicationStream {
        let target = PostgresConnectionString(url)
        if let problem = target.parseError {
            throw PostgresError(message: "invalid connection string: \(target.scrub(problem))", context: ["url": target.redacted])
        }
        var all = [
            "DateStyle": "ISO", "TimeZone": "UTC", "bytea_output": "hex", "IntervalStyle": "postgres",
            "extra_float_digits": "3",
        ]
        all.merge(settings) { _, new in new }
        let options = all.sorted { $0.key < $1.key }.map { "-c \(escapeOption($0.key))=\(escapeOption($0.value))" }
            .joined(separator: " ")
        let thread = DedicatedThread(name: "dpone-postgres-replication")
        let handle = PostgresConnectionHandle(target: target, thread: thread)
        do {
            try await thread.run {
                handle.adoptCurrentThread()
                handle.conn = try LibpqConnect.connect(
                    target, applicationName: applicationName,
                    overrides: [("replication", "database"), ("options", options)])
                handle.installCanceller()
            }
        } catch {
            try? await thread.run { handle.finish() }
            thread.stop()
            throw error
        }
        postgresLogger.debug("replication connection to \(target.redacted)")
        return ReplicationStream(handle: handle)
    }

    /// Backslash-escapes spaces and backslashes, as libpq's `options` parameter requires.
    static func escapeOption(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == " " || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    // MARK: commands

    /// `IDENTIFY_SYSTEM`'s answer.
    public struct SystemIdentity: Sendable, Hashable {
        /// The cluster's unique system identifier (decimal text).
        public var systemID: String
        public var timeline: UInt32
        /// The current WAL flush position.
        public var walPosition: LSN
        /// The connected database.
        public var database: String?
    }

    public func identifySystem() async throws -> SystemIdentity {
        let rows = try await command("IDENTIFY_SYSTEM")
        guard let row = rows.first, row.count >= 4, let systemID = row[0], let timeline = row[1].flatMap({ UInt32($0) }),
            let position = row[2].flatMap({ LSN($0) })
        else {
            throw PostgresError(message: "unexpected IDENTIFY_SYSTEM answer \(rows)", context: ["url": redactedURL])
        }
        return SystemIdentity(systemID: systemID, timeline: timeline, walPosition: position, database: row[3])
    }

    /// What `createSlot` does with the snapshot the slot starts from.
    public enum SnapshotAction: Sendable, Hashable {
        /// Export it (`snapshotName`): another session can `SET TRANSACTION SNAPSHOT` to read the data
        /// as of `consistentPoint`. It stays valid until this connection runs its next command.
        case export
        /// Use it in the current transaction of this connection (which must be REPEATABLE READ).
        case use
        /// Neither.
        case nothing
    }

    /// The spelling of `CREATE_REPLICATION_SLOT`'s options.
    public enum SlotCommandSyntax: Sendable, Hashable {
        /// `options` on PostgreSQL 15 and later, `legacy` before.
        case automatic
        /// PostgreSQL 15+: `LOGICAL pgoutput (SNAPSHOT 'export')`.
        case options
        /// PostgreSQL 10 to 14 (still accepted later): `LOGICAL pgoutput EXPORT_SNAPSHOT`.
        case legacy
    }

    /// A slot `createSlot` made.
    public struct CreatedSlot: Sendable, Hashable {
        public var name: String
        /// Changes committed after this position are streamed; the snapshot shows everything before.
        public var consistentPoint: LSN
        /// The exported snapshot (with `SnapshotAction.export`).
        public var snapshotName: String?
        public var outputPlugin: String?
    }

    /// `CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput ...`.
    ///
    /// - Parameter name: 1 to 63 characters of `a-z`, `0-9`, `_` (PostgreSQL's rule).
    /// - Throws: `DponeError(.usage)` for an invalid name; `PostgresError` (SQLSTATE 42710 when the
    ///   slot exists, 53400 when `max_replication_slots` are all used).
    public func createSlot(
        _ name: String, temporary: Bool = false, snapshot: SnapshotAction = .export, syntax: SlotCommandSyntax = .automatic
    ) async throws -> CreatedSlot {
        try Self.validateSlotName(name)
        let handle = self.handle
        let rows = try await run { conn in
            var spelling = syntax
            if spelling == .automatic { spelling = PQserverVersion(conn) >= 150_000 ? .options : .legacy }
            var sql = "CREATE_REPLICATION_SLOT \(name)\(temporary ? " TEMPORARY" : "") LOGICAL pgoutput"
            switch (spelling, snapshot) {
            case (.legacy, .export): sql += " EXPORT_SNAPSHOT"
            case (.legacy, .use): sql += " USE_SNAPSHOT"
            case (.legacy, .nothing): sql += " NOEXPORT_SNAPSHOT"
            case (_, .export): sql += " (SNAPSHOT 'export')"
            case (_, .use): sql += " (SNAPSHOT 'use')"
            case (_, .nothing): sql += " (SNAPSHOT 'nothing')"
            }
            return try Self.simpleQuery(conn, sql, handle)
        }
        guard let row = rows.first, row.count >= 4, let slot = row[0], let point = row[1].flatMap({ LSN($0) }) else {
            throw PostgresError(message: "unexpected CREATE_REPLICATION_SLOT answer \(rows)", context: ["url": redactedURL])
        }
        return CreatedSlot(name: slot, consistentPoint: point, snapshotName: row[2], outputPlugin: row[3])
    }

    /// `DROP_REPLICATION_SLOT name [WAIT]`: with `wait`, waits for a session using the slot to end
    /// instead of failing.
    public func dropSlot(_ name: String, wait: Bool = false) async throws {
        try Self.validateSlotName(name)
        _ = try await command("DROP_REPLICATION_SLOT \(name)\(wait ? " WAIT" : "")")
    }

    static func validateSlotName(_ name: String) throws {
        let ok =
            !name.isEmpty && name.utf8.count <= 63
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        guard ok else {
            throw DponeError(
                .usage, "invalid replication slot name \"\(name)\"",
                hint: "use 1 to 63 lowercase letters, digits and underscores")
        }
    }

    /// Runs a replication command (simple query protocol: replication connections accept no other).
    private func command(_ sql: String) async throws -> [[String?]] {
        let handle = self.handle
        return try await run { conn in try Self.simpleQuery(conn, sql, handle) }
    }

    private static func simpleQuery(_ conn: OpaquePointer, _ sql: String, _ handle: PostgresConnectionHandle) throws
        -> [[String?]]
    {
        let result = PQexec(conn, sql)
        defer { PQclear(result) }
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            throw PostgresError.from(result: result, connection: conn, target: handle.target, sql: sql)
        }
        var rows: [[String?]] = []
        for r in 0..<PQntuples(result) {
            rows.append(
                (0..<PQnfields(result)).map { c in
                    PQgetisnull(result, r, c) != 0 ? nil : String(cString: PQgetvalue(result, r, c))
                })
        }
        return rows
    }

    /// Runs `body` on the connection thread with the open connection.
    private func run<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        let handle = self.handle
        guard !closed.withLock({ $0 }) else {
            throw PostgresError(message: "the replication connection is closed", context: ["url": handle.target.redacted])
        }
        return try await handle.thread.run { try body(try handle.open()) }
    }

    // MARK: streaming

    /// `START_REPLICATION SLOT slot LOGICAL lsn (proto_version '1', publication_names '...')`: the
    /// connection enters CopyBoth mode; read with `receive`.
    ///
    /// - Parameters:
    ///   - lsn: where to start; the server starts at the slot's `confirmed_flush_lsn` when that is later
    ///     (and for `LSN.invalid`).
    ///   - messages: also stream `pg_logical_emit_message` messages (of every session: they are not
    ///     filtered by publication).
    ///   - statusInterval: how often an unsolicited status update is sent, by `receive` or, between
    ///     receives, by the stream itself (keep it well under the server's `wal_sender_timeout`, 60 s by
    ///     default).
    public func startReplication(
        slot: String, from lsn: LSN = .invalid, publications: [String], messages: Bool = false,
        statusInterval: Duration = .seconds(10)
    ) async throws {
        try Self.validateSlotName(slot)
        guard !publications.isEmpty else {
            throw DponeError(.usage, "START_REPLICATION needs at least one publication")
        }
        let list = publications.map { "\"" + $0.replacing("\"", with: "\"\"") + "\"" }.joined(separator: ",")
        var sql = "START_REPLICATION SLOT \(slot) LOGICAL \(lsn) (proto_version '1', publication_names "
        sql += "'" + list.replacing("'", with: "''") + "'"
        if messages { sql += ", messages 'true'" }
        sql += ")"
        let statement = sql
        let handle = self.handle
        let state = self.state
        try await run { conn in
            guard !state.streaming else {
                throw PostgresError(message: "replication is already streaming", context: ["url": handle.target.redacted])
            }
            let result = PQexec(conn, statement)
            defer { PQclear(result) }
            guard let result, PQresultStatus(result) == PGRES_COPY_BOTH else {
                throw PostgresError.from(result: result, connection: conn, target: handle.target, sql: statement)
            }
            // Non-blocking from here: reads use PQconsumeInput + poll, writes PQflush + poll.
            guard PQsetnonblocking(conn, 1) == 0 else {
                throw PostgresError(
                    message: PostgresError.connectionMessage(conn, handle.target), context: ["url": handle.target.redacted])
            }
            state.streaming = true
            state.statusInterval = statusInterval
            state.lastStatusSent = .now
            state.serverWALEnd = .invalid
            state.lastReceived = lsn
        }
        stopRequested.store(false, ordering: .relaxed)
        // The heartbeat runs on the connection thread itself, between jobs: no cooperative thread is
        // needed, so a saturated pool cannot let wal_sender_timeout end the connection. It wakes
        // several times per interval and sends when an update is due: woken only once per interval,
        // its phase against the last update let up to two intervals pass between updates (CI saw a
        // walsender end 20 s after START_REPLICATION with a 7 s interval and a 10 s timeout).
        handle.thread.setIdleJob(every: min(statusInterval / 4, .seconds(1))) { [weak self] in
            self?.sendStatusIfDueBetweenReceives()
        }
    }

    /// The heartbeat's step, on the connection thread between receives. A failure is left for the
    /// next `receive` to report.
    private func sendStatusIfDueBetweenReceives() {
        guard !closed.withLock({ $0 }), state.streaming, let conn = try? handle.open() else { return }
        try? sendStatusIfDue(conn)
    }

    /// One decoded `pgoutput` message with the positions of its XLogData frame.
    public struct Message: Sendable, Hashable {
        /// The WAL position of the change (0/0 for some messages; use a commit's own LSNs for progress).
        public var walStart: LSN
        /// The server's end of WAL when it sent the message.
        public var walEnd: LSN
        /// Server clock at transmission, Unix microseconds.
        public var sendTime: Int64
        public var message: PgOutputMessage
    }

    /// What one `receive` call got.
    public struct Received: Sendable {
        /// In server order.
        public var messages: [Message]
        /// The highest end of WAL the server reported so far (XLogData and keepalives). When idle
        /// with no transaction open, a caller whose changes are all durable may confirm up to here.
        public var serverWALEnd: LSN
        /// The server ended the stream (CopyDone); the connection is back in command mode.
        public var endOfStream: Bool
        /// `requestStop()` was called or the awaiting task was cancelled.
        public var stopped: Bool
    }

    /// Receives messages until `maxMessages` arrived, until no more are immediately available after at
    /// least one arrived, or until `timeout` passed (then possibly none). Returns early, with
    /// `stopped`, after `requestStop()` or when the awaiting task is cancelled (checked at least
    /// every 100 ms while waiting).
    ///
    /// Keepalives are handled here: one that requests a reply is answered at once with a status
    /// update; an unsolicited status update goes out every `statusInterval`.
    ///
    /// - Throws: `PostgresError` when the connection fails or the server ends the stream with an
    ///   error (e.g. the slot was dropped); `DponeError(.source)` for a malformed message, naming its LSN.
    public func receive(maxMessages: Int = 4096, timeout: Duration) async throws -> Received {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await run { conn in try self.receiveBlocking(conn, maxMessages: max(1, maxMessages), timeout: timeout, flag: flag) }
        } onCancel: {
            flag.cancel()
        }
    }

    /// Asks a running or the next `receive` to return promptly (from any thread). Reset by `startReplication`.
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// Records that everything up to `flushed` is durable at the destination. Reported by the next
    /// status update; a value below one recorded before is ignored (progress never goes back).
    public func confirm(flushed: LSN) {
        durable.withLock { $0 = max($0, flushed) }
    }

    /// The highest position recorded by `confirm(flushed:)` / `sendStatusUpdate(flushed:)`.
    public var confirmedFlushed: LSN { durable.withLock { $0 } }

    /// Sends a standby status update now, after recording `flushed` (see `confirm(flushed:)`).
    /// `replyRequested` asks the server to answer with a keepalive (handled by the next `receive`).
    public func sendStatusUpdate(flushed: LSN? = nil, replyRequested: Bool = false) async throws {
        if let flushed { confirm(flushed: flushed) }
        try await run { conn in
            guard self.state.streaming else {
                throw PostgresError(message: "replication is not streaming", context: ["url": self.handle.target.redacted])
            }
            try self.sendStatus(conn, replyRequested: replyRequested)
        }
    }

    /// Ends streaming (CopyDone), discarding messages still in flight (they are not confirmed, so
    /// the server sends them again next time), and returns the connection to command mode.
    public func stopReplication() async throws {
        try await run { conn in
            guard self.state.streaming else { return }
            try self.endCopy(conn)
        }
    }

    /// Closes the connection (the server releases the slot) and stops the thread. Idempotent.
    public func close() async {
        let first = closed.withLock { wasClosed in
            defer { wasClosed = true }
            return !wasClosed
        }
        guard first else { return }
        let handle = self.handle
        handle.thread.setIdleJob(every: .zero, nil)
        try? await handle.thread.run { handle.finish() }
        handle.thread.stop()
    }

    // MARK: on the connection thread

    private func receiveBlocking(_ conn: OpaquePointer, maxMessages: Int, timeout: Duration, flag: CancellationFlag) throws
        -> Received
    {
        guard state.streaming else {
            throw PostgresError(message: "replication is not streaming", context: ["url": handle.target.redacted])
        }
        let deadline = ContinuousClock.now + timeout
        var received = Received(messages: [], serverWALEnd: state.serverWALEnd, endOfStream: false, stopped: false)
        while received.messages.count < maxMessages {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(conn, &buffer, 1)
            if n > 0, let buffer {
                let frame = Array(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
                PQfreemem(buffer)
                try process(frame: frame, conn, into: &received.messages)
                continue
            }
            if n == -1 {
                // The server ended the copy: read its result (an error when, e.g., the slot went away).
                state.streaming = false
                _ = PQsetnonblocking(conn, 0)
                if let error = drainResults(conn) { throw error }
                received.endOfStream = true
                break
            }
            if n < -1 {
                throw connectionError(conn, "reading the replication stream")
            }
            // Nothing buffered.
            if !received.messages.isEmpty { break }
            try sendStatusIfDue(conn)
            if stopRequested.load(ordering: .relaxed) || flag.isCancelled {
                received.stopped = true
                break
            }
            let left = deadline - ContinuousClock.now
            if left <= .zero { break }
            try waitForSocket(conn, upTo: min(left, .milliseconds(100)))
        }
        if state.streaming { try sendStatusIfDue(conn) }
        received.serverWALEnd = state.serverWALEnd
        if stopRequested.load(ordering: .relaxed) || flag.isCancelled { received.stopped = true }
        return received
    }

    private func process(frame: [UInt8], _ conn: OpaquePointer, into messages: inout [Message]) throws {
        let decoded: ReplicationFrame
        do {
            decoded = try ReplicationFrame.decode(frame)
        } catch {
            throw error.dponeError
        }
        switch decoded {
        case .xLogData(let x):
            state.serverWALEnd = max(state.serverWALEnd, x.walEnd)
            state.lastReceived = max(state.lastReceived, x.walStart)
            do {
                let message = try PgOutputDecoder.decode(x.data)
                messages.append(Message(walStart: x.walStart, walEnd: x.walEnd, sendTime: x.sendTime, message: message))
            } catch {
                var failure = error.dponeError
                failure.context["lsn"] = x.walStart.description
                failure.context["offset"] = String(error.offset)
                throw failure
            }
        case .keepalive(let k):
            state.serverWALEnd = max(state.serverWALEnd, k.walEnd)
            if k.replyRequested {
                try sendStatus(conn, replyRequested: false)
                state.keepalivesAnswered += 1
            }
        }
    }

    private func sendStatusIfDue(_ conn: OpaquePointer) throws {
        guard let last = state.lastStatusSent else { return try sendStatus(conn, replyRequested: false) }
        if ContinuousClock.now - last >= state.statusInterval { try sendStatus(conn, replyRequested: false) }
    }

    /// Builds, queues and flushes one status update reporting the caller's durable position.
    private func sendStatus(_ conn: OpaquePointer, replyRequested: Bool) throws {
        let flushed = durable.withLock { $0 }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let clock = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
        let update = StandbyStatusUpdate(
            written: max(flushed, state.lastReceived), flushed: flushed, applied: flushed, clock: clock,
            replyRequested: replyRequested)
        let bytes = update.encode()
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let queued = bytes.withUnsafeBytes { raw in
                PQputCopyData(conn, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count))
            }
            if queued == 1 { break }
            if queued < 0 { throw connectionError(conn, "sending a status update") }
            // 0: libpq's buffer is full (non-blocking): flush some, then queue again.
            try flush(conn, until: deadline)
        }
        try flush(conn, until: deadline)
        state.lastStatusSent = .now
        postgresLogger.trace("replication status update: flushed \(flushed)")
    }

    /// Flushes libpq's output buffer, waiting for the socket; keeps reading input meanwhile so a
    /// server blocked on sending cannot deadlock the exchange.
    private func flush(_ conn: OpaquePointer, until deadline: ContinuousClock.Instant) throws {
        while true {
            let r = PQflush(conn)
            if r == 0 { return }
            if r < 0 { throw connectionError(conn, "sending to the server") }
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw PostgresError(
                    message: "timed out sending to the replication connection",
                    context: ["url": handle.target.redacted, "server": handle.target.server])
            }
            try waitForSocket(conn, upTo: min(left, .milliseconds(100)), writing: true)
        }
    }

    /// Waits up to `wait` for the socket to become readable (or writable with `writing`), then lets
    /// libpq read what arrived.
    private func waitForSocket(_ conn: OpaquePointer, upTo wait: Duration, writing: Bool = false) throws {
        let socket = PQsocket(conn)
        guard socket >= 0 else { throw connectionError(conn, "waiting for the replication stream") }
        var pfd = pollfd(fd: socket, events: Int16(POLLIN) | (writing ? Int16(POLLOUT) : 0), revents: 0)
        let ms = Int32(clamping: max(1, wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000))
        let ready = poll(&pfd, 1, ms)
        if ready < 0 {
            if errno == EINTR { return }
            throw PostgresError(
                message: "poll failed on the replication connection (errno \(errno))",
                context: ["url": handle.target.redacted, "server": handle.target.server])
        }
        if ready > 0 && pfd.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
            guard PQconsumeInput(conn) == 1 else { throw connectionError(conn, "reading the replication stream") }
        }
    }

    /// Sends CopyDone, skips what the server still sends until its CopyDone, and reads the results.
    private func endCopy(_ conn: OpaquePointer) throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let r = PQputCopyEnd(conn, nil)
            if r == 1 { break }
            if r < 0 { throw connectionError(conn, "ending the replication stream") }
            try flush(conn, until: deadline)
        }
        try flush(conn, until: deadline)
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(conn, &buffer, 1)
            if n > 0 {
                PQfreemem(buffer)
                continue
            }
            if n == -1 { break }
            if n < -1 { throw connectionError(conn, "ending the replication stream") }
            guard ContinuousClock.now < deadline else {
                throw PostgresError(
                    message: "timed out waiting for the server to end the replication stream",
                    context: ["url": handle.target.redacted, "server": handle.target.server])
            }
            try waitForSocket(conn, upTo: .milliseconds(100))
        }
        state.streaming = false
        _ = PQsetnonblocking(conn, 0)
        if let error = drainResults(conn) { throw error }
    }

    /// Reads results until none is left; the first error among them.
    private func drainResults(_ conn: OpaquePointer) -> PostgresError? {
        var first: PostgresError?
        while let result = PQgetResult(conn) {
            let status = PQresultStatus(result)
            if first == nil, status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE {
                first = PostgresError.from(result: result, connection: conn, target: handle.target, sql: nil)
            }
            PQclear(result)
        }
        return first
    }

    private func connectionError(_ conn: OpaquePointer, _ doing: String) -> PostgresError {
        PostgresError(
            message: "\(doing): \(PostgresError.connectionMessage(conn, handle.target))",
            context: ["url": handle.target.redacted, "server": handle.target.server])
    }

    /// Keepalives answered so far (tests, diagnostics).
    public func keepalivesAnswered() async throws -> Int {
        try await run { _ in self.state.keepalivesAnswered }
    }
}

/// `ReplicationStream`'s streaming state, confined to the connection thread.
final class StreamState: @unchecked Sendable {
    var streaming = false
    var statusInterval: Duration = .seconds(10)
    var lastStatusSent: ContinuousClock.Instant?
    var serverWALEnd = LSN.invalid
    var lastReceived = LSN.invalid
    var keepalivesAnswered = 0
}
