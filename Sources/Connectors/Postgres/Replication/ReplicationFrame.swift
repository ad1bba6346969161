/// A CopyData message of the streaming replication protocol (CopyBoth mode after `START_REPLICATION`).
///
/// Server to client: XLogData ('w') carrying one `pgoutput` message, and the primary keepalive
/// ('k'). Client to server: the standby status update ('r'), built by `StandbyStatusUpdate.encode`.
/// Timestamps are Unix microseconds; the wire's PostgreSQL-epoch values are converted both ways.
public enum ReplicationFrame: Sendable, Hashable {
    case xLogData(XLogData)
    case keepalive(Keepalive)

    /// 'w': WAL data.
    public struct XLogData: Sendable, Hashable {
        /// The WAL position of the change `data` carries (the server sends 0 for some messages,
        /// e.g. a commit in some versions: use the commit's own LSNs for progress).
        public var walStart: LSN
        /// The current end of WAL on the server.
        public var walEnd: LSN
        /// Server clock at transmission, Unix microseconds.
        public var sendTime: Int64
        /// The `pgoutput` message (decode with `PgOutputDecoder`).
        public var data: ArraySlice<UInt8>

        public init(walStart: LSN, walEnd: LSN, sendTime: Int64, data: ArraySlice<UInt8>) {
            self.walStart = walStart
            self.walEnd = walEnd
            self.sendTime = sendTime
            self.data = data
        }
    }

    /// 'k': primary keepalive.
    public struct Keepalive: Sendable, Hashable {
        /// The current end of WAL on the server.
        public var walEnd: LSN
        /// Server clock at transmission, Unix microseconds.
        public var sendTime: Int64
        /// The server asks for a status update now (it will otherwise drop the connection after
        /// `wal_sender_timeout`).
        public var replyRequested: Bool

        public init(walEnd: LSN, sendTime: Int64, replyRequested: Bool) {
            self.walEnd = walEnd
            self.sendTime = sendTime
            self.replyRequested = replyRequested
        }
    }

    /// Decodes one CopyData payload. Throws on an unknown type or a short / overlong frame.
    public static func decode(_ bytes: [UInt8]) throws(PgOutputDecodingError) -> ReplicationFrame {
        try decode(bytes[...])
    }

    public static func decode(_ bytes: ArraySlice<UInt8>) throws(PgOutputDecodingError) -> ReplicationFrame {
        var r = WireReader(bytes)
        switch try r.uint8("frame type") {
        case UInt8(ascii: "w"):
            let start = try r.lsn("WAL start")
            let end = try r.lsn("WAL end")
            let time = try r.timestamp("send time")
            return .xLogData(.init(walStart: start, walEnd: end, sendTime: time, data: bytes[r.position...]))
        case UInt8(ascii: "k"):
            let end = try r.lsn("WAL end")
            let time = try r.timestamp("send time")
            let reply = try r.uint8("reply flag")
            try r.expectEnd()
            return .keepalive(.init(walEnd: end, sendTime: time, replyRequested: reply != 0))
        case let other:
            throw PgOutputDecodingError(offset: 0, message: "unknown replication frame type \(PgOutputDecoder.describe(other))")
        }
    }
}

/// 'r': the standby status update a client sends to report its progress.
///
/// The server keeps WAL from `flushed` on (for a logical slot, `confirmed_flush_lsn` becomes `flushed`):
/// report as flushed only what the destination has durably stored.
public struct StandbyStatusUpdate: Sendable, Hashable {
    /// Last WAL byte + 1 received and written.
    public var written: LSN
    /// Last WAL byte + 1 durably stored.
    public var flushed: LSN
    /// Last WAL byte + 1 applied.
    public var applied: LSN
    /// Client clock, Unix microseconds.
    public var clock: Int64
    /// Ask the server to reply with a keepalive right away.
    public var replyRequested: Bool

    public init(written: LSN, flushed: LSN, applied: LSN, clock: Int64, replyRequested: Bool = false) {
        self.written = written
        self.flushed = flushed
        self.applied = applied
        self.clock = clock
        self.replyRequested = replyRequested
    }

    /// The 34-byte CopyData payload.
    public func encode() -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "r")]
        out.reserveCapacity(34)
        func put(_ v: UInt64) {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
        }
        put(written.value)
        put(flushed.value)
        put(applied.value)
        put(UInt64(bitPattern: PostgresEpoch.postgresMicros(fromUnix: clock)))
        out.append(replyRequested ? 1 : 0)
        return out
    }

    /// Decodes a payload built by `encode` (tests, diagnostics).
    public static func decode(_ bytes: [UInt8]) throws(PgOutputDecodingError) -> StandbyStatusUpdate {
        var r = WireReader(bytes[...])
        try r.expectTag(UInt8(ascii: "r"), "the standby status update type 'r'")
        let update = StandbyStatusUpdate(
            written: try r.lsn("written LSN"), flushed: try r.lsn("flushed LSN"), applied: try r.lsn("applied LSN"),
            clock: try r.timestamp("clock"), replyRequested: try r.uint8("reply flag") != 0)
        try r.expectEnd()
        return update
    }
}
