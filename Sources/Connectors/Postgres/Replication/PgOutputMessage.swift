/// One message of PostgreSQL's logical replication protocol as the `pgoutput` plugin writes it
/// (protocol version 1): the payload of an XLogData frame, or one `data` row of
/// `pg_logical_slot_{get,peek}_binary_changes(..., 'proto_version', '1', ...)`.
///
/// Timestamps are Unix microseconds (UTC); the wire's PostgreSQL-epoch values are converted.
public enum PgOutputMessage: Sendable, Hashable {
    case begin(Begin)
    case commit(Commit)
    case origin(Origin)
    case relation(PgOutputRelation)
    case type(TypeInfo)
    case insert(Insert)
    case update(Update)
    case delete(Delete)
    case truncate(Truncate)
    case message(LogicalMessage)

    /// 'B': a transaction starts. Its changes follow, then a `commit`.
    public struct Begin: Sendable, Hashable {
        /// The LSN of the transaction's commit record.
        public var finalLSN: LSN
        /// Commit time, Unix microseconds.
        public var commitTime: Int64
        public var xid: UInt32

        public init(finalLSN: LSN, commitTime: Int64, xid: UInt32) {
            self.finalLSN = finalLSN
            self.commitTime = commitTime
            self.xid = xid
        }
    }

    /// 'C': the transaction opened by the last `begin` committed.
    public struct Commit: Sendable, Hashable {
        /// Unused by the server so far (0).
        public var flags: UInt8
        /// The LSN of the commit record (the `begin`'s `finalLSN`).
        public var commitLSN: LSN
        /// The end of the commit record: the position to confirm once the transaction is durable.
        public var endLSN: LSN
        /// Commit time, Unix microseconds.
        public var commitTime: Int64

        public init(flags: UInt8 = 0, commitLSN: LSN, endLSN: LSN, commitTime: Int64) {
            self.flags = flags
            self.commitLSN = commitLSN
            self.endLSN = endLSN
            self.commitTime = commitTime
        }
    }

    /// 'O': the transaction was replicated into this server from `name` (replication origins).
    public struct Origin: Sendable, Hashable {
        public var commitLSN: LSN
        public var name: String

        public init(commitLSN: LSN, name: String) {
            self.commitLSN = commitLSN
            self.name = name
        }
    }

    /// 'Y': a non-built-in type used by a following relation (enums, domains, composites...).
    public struct TypeInfo: Sendable, Hashable {
        public var oid: UInt32
        public var namespace: String
        public var name: String

        public init(oid: UInt32, namespace: String, name: String) {
            self.oid = oid
            self.namespace = namespace
            self.name = name
        }
    }

    /// 'I': a new row.
    public struct Insert: Sendable, Hashable {
        public var relationID: UInt32
        public var new: PgOutputTuple

        public init(relationID: UInt32, new: PgOutputTuple) {
            self.relationID = relationID
            self.new = new
        }
    }

    /// The old row an update or delete carries: the replica identity key columns (`key`, other
    /// columns null) or the whole old row (`full`, REPLICA IDENTITY FULL).
    public enum OldTuple: Sendable, Hashable {
        /// 'K'
        case key(PgOutputTuple)
        /// 'O'
        case full(PgOutputTuple)

        public var tuple: PgOutputTuple {
            switch self {
            case .key(let t), .full(let t): t
            }
        }
    }

    /// 'U': a changed row. `old` is present when the key changed (`key`) or the table has REPLICA
    /// IDENTITY FULL (`full`); otherwise the identity is read from `new`.
    public struct Update: Sendable, Hashable {
        public var relationID: UInt32
        public var old: OldTuple?
        public var new: PgOutputTuple

        public init(relationID: UInt32, old: OldTuple? = nil, new: PgOutputTuple) {
            self.relationID = relationID
            self.old = old
            self.new = new
        }
    }

    /// 'D': a removed row, identified by `old`.
    public struct Delete: Sendable, Hashable {
        public var relationID: UInt32
        public var old: OldTuple

        public init(relationID: UInt32, old: OldTuple) {
            self.relationID = relationID
            self.old = old
        }
    }

    /// 'T': one TRUNCATE over one or more relations.
    public struct Truncate: Sendable, Hashable {
        /// Bit 1: CASCADE; bit 2: RESTART IDENTITY.
        public var options: UInt8
        public var relationIDs: [UInt32]

        public var cascade: Bool { options & 1 != 0 }
        public var restartIdentity: Bool { options & 2 != 0 }

        public init(options: UInt8, relationIDs: [UInt32]) {
            self.options = options
            self.relationIDs = relationIDs
        }
    }

    /// 'M': a `pg_logical_emit_message` (only when the stream asks for `messages 'true'`).
    public struct LogicalMessage: Sendable, Hashable {
        /// Emitted inside the transaction (between its begin and commit) rather than on its own.
        public var transactional: Bool
        public var lsn: LSN
        public var prefix: String
        public var content: [UInt8]

        public init(transactional: Bool, lsn: LSN, prefix: String, content: [UInt8]) {
            self.transactional = transactional
            self.lsn = lsn
            self.prefix = prefix
            self.content = content
        }
    }
}

/// 'R': a table's shape, sent before its first change in a session and again after it changes.
/// Changes refer to it by `id` (the table's OID).
public struct PgOutputRelation: Sendable, Hashable {
    public var id: UInt32
    /// The schema; the wire sends "" for `pg_catalog`, this holds the name as sent.
    public var namespace: String
    public var name: String
    public var replicaIdentity: ReplicaIdentity
    public var columns: [Column]

    public enum ReplicaIdentity: Sendable, Hashable {
        /// 'd': the primary key.
        case `default`
        /// 'n': none (updates and deletes are not published).
        case nothing
        /// 'f': every column.
        case full
        /// 'i': a chosen unique index.
        case index
        /// A setting this decoder does not know.
        case other(UInt8)

        init(byte: UInt8) {
            switch byte {
            case UInt8(ascii: "d"): self = .default
            case UInt8(ascii: "n"): self = .nothing
            case UInt8(ascii: "f"): self = .full
            case UInt8(ascii: "i"): self = .index
            default: self = .other(byte)
            }
        }
    }

    public struct Column: Sendable, Hashable {
        /// Bit 1: part of the replica identity.
        public var flags: UInt8
        public var name: String
        public var typeOID: UInt32
        /// `atttypmod` (-1 when none).
        public var typmod: Int32

        public var isKey: Bool { flags & 1 != 0 }

        public init(flags: UInt8, name: String, typeOID: UInt32, typmod: Int32) {
            self.flags = flags
            self.name = name
            self.typeOID = typeOID
            self.typmod = typmod
        }

        public init(key: Bool = false, _ name: String, oid: UInt32, typmod: Int32 = -1) {
            self.init(flags: key ? 1 : 0, name: name, typeOID: oid, typmod: typmod)
        }
    }

    public init(id: UInt32, namespace: String, name: String, replicaIdentity: ReplicaIdentity, columns: [Column]) {
        self.id = id
        self.namespace = namespace
        self.name = name
        self.replicaIdentity = replicaIdentity
        self.columns = columns
    }

    /// The names of the replica identity columns, in table order.
    public var keyColumns: [String] { columns.filter(\.isKey).map(\.name) }
}

/// One value of a TupleData.
public enum PgOutputValue: Sendable, Hashable {
    /// 'n'
    case null
    /// 'u': a TOASTed value the change did not touch; the server does not send it.
    case unchangedToast
    /// 't': the value's text form (UTF-8).
    case text([UInt8])
    /// 'b': the value's binary (`typsend`) form, when the stream asked for `binary 'true'`.
    case binary([UInt8])

    /// A text value from a Swift string (tests, expectations).
    public static func text(_ string: String) -> PgOutputValue { .text(Array(string.utf8)) }

    /// The text of a `text` value, else nil.
    public var string: String? {
        if case .text(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}

/// A TupleData: one value per column of the relation, in column order.
///
/// The values stay in the message's bytes (no copy per value): read them with `withValue(at:_:)`,
/// or as `PgOutputValue`s through the subscript. Equality compares the values only.
public struct PgOutputTuple: Sendable, Hashable, RandomAccessCollection {
    public enum Kind: UInt8, Sendable {
        case null = 0x6E  // 'n'
        case unchangedToast = 0x75  // 'u'
        case text = 0x74  // 't'
        case binary = 0x62  // 'b'
    }

    struct Cell: Sendable {
        var kind: Kind
        /// Absolute index of the value's first byte in `storage`, and its length.
        var start: Int
        var count: Int
    }

    let storage: ArraySlice<UInt8>
    let cells: [Cell]

    init(storage: ArraySlice<UInt8>, cells: [Cell]) {
        self.storage = storage
        self.cells = cells
    }

    /// A tuple of `values` (tests, expectations).
    public init(_ values: [PgOutputValue]) {
        var bytes: [UInt8] = []
        var cells: [Cell] = []
        for value in values {
            switch value {
            case .null: cells.append(Cell(kind: .null, start: 0, count: 0))
            case .unchangedToast: cells.append(Cell(kind: .unchangedToast, start: 0, count: 0))
            case .text(let v):
                cells.append(Cell(kind: .text, start: bytes.count, count: v.count))
                bytes += v
            case .binary(let v):
                cells.append(Cell(kind: .binary, start: bytes.count, count: v.count))
                bytes += v
            }
        }
        self.storage = bytes[...]
        self.cells = cells
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { cells.count }

    public func kind(at i: Int) -> Kind { cells[i].kind }

    public subscript(i: Int) -> PgOutputValue {
        let cell = cells[i]
        switch cell.kind {
        case .null: return .null
        case .unchangedToast: return .unchangedToast
        case .text: return .text(Array(storage[cell.start..<cell.start + cell.count]))
        case .binary: return .binary(Array(storage[cell.start..<cell.start + cell.count]))
        }
    }

    /// Calls `body` with the bytes of value `i` when it is `text` or `binary`; nil for `null` and
    /// `unchangedToast`.
    public func withValue<R>(at i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        let cell = cells[i]
        guard cell.kind == .text || cell.kind == .binary else { return nil }
        return try storage.withUnsafeBytes { raw in
            let base = storage.startIndex
            return try body(UnsafeRawBufferPointer(rebasing: raw[(cell.start - base)..<(cell.start - base + cell.count)]))
        }
    }

    /// Every value, copied out.
    public var values: [PgOutputValue] { map { $0 } }

    public static func == (a: PgOutputTuple, b: PgOutputTuple) -> Bool { a.values == b.values }
    public func hash(into hasher: inout Hasher) { hasher.combine(values) }
}

extension PgOutputTuple: CustomStringConvertible {
    public var description: String {
        "(" + indices.map { i -> String in
            switch self[i] {
            case .null: "NULL"
            case .unchangedToast: "<unchanged toast>"
            case .text(let b): "'" + String(decoding: b, as: UTF8.self) + "'"
            case .binary(let b): "<\(b.count) binary bytes>"
            }
        }.joined(separator: ", ") + ")"
    }
}
