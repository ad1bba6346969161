import Flow

/// A malformed replication message: what was expected and the byte offset (from the start of the
/// message) where decoding stopped.
public struct PgOutputDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "malformed replication message at byte \(offset): \(message)" }

    /// As a Flow error of kind `.source`.
    public var dponeError: DponeError {
        DponeError(.source, "PostgreSQL replication: \(description)", context: ["offset": String(offset)])
    }
}

/// Decodes `pgoutput` protocol version 1 messages. Pure: bytes in, values out, no I/O.
///
/// - Every message is read whole: a short message, an unknown message or tuple kind, a negative
///   length or bytes left over after the message throw `PgOutputDecodingError` with the offset.
///   Nothing traps on any input.
/// - Tuple values are not copied: `PgOutputTuple` keeps a reference to the message's bytes.
/// - Protocol 2+ additions (streamed transactions: xids before relation ids, 'S'/'E'/'c'/'A'
///   messages; two-phase 'b'/'P'/'K'/'r') are not decoded: the stream asks for version 1.
public enum PgOutputDecoder {
    public static func decode(_ message: [UInt8]) throws(PgOutputDecodingError) -> PgOutputMessage {
        try decode(message[...])
    }

    public static func decode(_ message: ArraySlice<UInt8>) throws(PgOutputDecodingError) -> PgOutputMessage {
        var r = WireReader(message)
        let tag = try r.uint8("message type")
        let decoded: PgOutputMessage
        switch tag {
        case UInt8(ascii: "B"):
            decoded = .begin(
                .init(finalLSN: try r.lsn("final LSN"), commitTime: try r.timestamp("commit time"), xid: try r.uint32("xid")))
        case UInt8(ascii: "C"):
            decoded = .commit(
                .init(
                    flags: try r.uint8("flags"), commitLSN: try r.lsn("commit LSN"), endLSN: try r.lsn("end LSN"),
                    commitTime: try r.timestamp("commit time")))
        case UInt8(ascii: "O"):
            decoded = .origin(.init(commitLSN: try r.lsn("origin commit LSN"), name: try r.cString("origin name")))
        case UInt8(ascii: "R"):
            decoded = .relation(try relation(&r))
        case UInt8(ascii: "Y"):
            decoded = .type(
                .init(oid: try r.uint32("type OID"), namespace: try r.cString("type namespace"), name: try r.cString("type name")))
        case UInt8(ascii: "I"):
            let id = try r.uint32("relation id")
            try r.expectTag(UInt8(ascii: "N"), "the new tuple marker 'N'")
            decoded = .insert(.init(relationID: id, new: try tuple(&r)))
        case UInt8(ascii: "U"):
            let id = try r.uint32("relation id")
            var old: PgOutputMessage.OldTuple?
            let offset = r.offset
            switch try r.uint8("tuple marker") {
            case UInt8(ascii: "K"):
                old = .key(try tuple(&r))
                try r.expectTag(UInt8(ascii: "N"), "the new tuple marker 'N'")
            case UInt8(ascii: "O"):
                old = .full(try tuple(&r))
                try r.expectTag(UInt8(ascii: "N"), "the new tuple marker 'N'")
            case UInt8(ascii: "N"):
                break
            case let other:
                throw PgOutputDecodingError(offset: offset, message: "expected tuple marker 'K', 'O' or 'N', found \(describe(other))")
            }
            decoded = .update(.init(relationID: id, old: old, new: try tuple(&r)))
        case UInt8(ascii: "D"):
            let id = try r.uint32("relation id")
            let offset = r.offset
            switch try r.uint8("tuple marker") {
            case UInt8(ascii: "K"): decoded = .delete(.init(relationID: id, old: .key(try tuple(&r))))
            case UInt8(ascii: "O"): decoded = .delete(.init(relationID: id, old: .full(try tuple(&r))))
            case let other:
                throw PgOutputDecodingError(offset: offset, message: "expected tuple marker 'K' or 'O', found \(describe(other))")
            }
        case UInt8(ascii: "T"):
            let countOffset = r.offset
            let count = try r.int32("relation count")
            let options = try r.uint8("truncate options")
            guard count >= 0, Int(count) * 4 <= r.remaining else {
                throw PgOutputDecodingError(offset: countOffset, message: "truncate of \(count) relations does not fit the message")
            }
            var ids: [UInt32] = []
            ids.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { ids.append(try r.uint32("relation id")) }
            decoded = .truncate(.init(options: options, relationIDs: ids))
        case UInt8(ascii: "M"):
            let flags = try r.uint8("message flags")
            let lsn = try r.lsn("message LSN")
            let prefix = try r.cString("message prefix")
            let length = try r.length("message content length")
            let range = try r.skip(length, "message content")
            decoded = .message(.init(transactional: flags & 1 != 0, lsn: lsn, prefix: prefix, content: Array(message[range])))
        default:
            throw PgOutputDecodingError(offset: 0, message: "unknown pgoutput message type \(describe(tag))")
        }
        try r.expectEnd()
        return decoded
    }

    static func relation(_ r: inout WireReader) throws(PgOutputDecodingError) -> PgOutputRelation {
        let id = try r.uint32("relation id")
        let namespace = try r.cString("relation namespace")
        let name = try r.cString("relation name")
        let identity = PgOutputRelation.ReplicaIdentity(byte: try r.uint8("replica identity"))
        let countOffset = r.offset
        let count = try r.int16("column count")
        // Each column takes at least 1 + 1 + 4 + 4 bytes.
        guard count >= 0, Int(count) * 10 <= r.remaining else {
            throw PgOutputDecodingError(offset: countOffset, message: "\(count) columns do not fit the message")
        }
        var columns: [PgOutputRelation.Column] = []
        columns.reserveCapacity(Int(count))
        for _ in 0..<Int(count) {
            columns.append(
                .init(
                    flags: try r.uint8("column flags"), name: try r.cString("column name"), typeOID: try r.uint32("column type OID"),
                    typmod: try r.int32("column typmod")))
        }
        return PgOutputRelation(id: id, namespace: namespace, name: name, replicaIdentity: identity, columns: columns)
    }

    static func tuple(_ r: inout WireReader) throws(PgOutputDecodingError) -> PgOutputTuple {
        let countOffset = r.offset
        let count = try r.int16("tuple column count")
        guard count >= 0, Int(count) <= r.remaining else {
            throw PgOutputDecodingError(offset: countOffset, message: "\(count) tuple values do not fit the message")
        }
        var cells: [PgOutputTuple.Cell] = []
        cells.reserveCapacity(Int(count))
        for i in 0..<Int(count) {
            let offset = r.offset
            let kindByte = try r.uint8("value kind of column \(i + 1)")
            guard let kind = PgOutputTuple.Kind(rawValue: kindByte) else {
                throw PgOutputDecodingError(
                    offset: offset, message: "unknown value kind \(describe(kindByte)) for column \(i + 1) (expected n, u, t or b)")
            }
            switch kind {
            case .null, .unchangedToast:
                cells.append(.init(kind: kind, start: r.position, count: 0))
            case .text, .binary:
                let length = try r.length("value length of column \(i + 1)")
                let range = try r.skip(length, "value of column \(i + 1)")
                cells.append(.init(kind: kind, start: range.lowerBound, count: length))
            }
        }
        return PgOutputTuple(storage: r.bytes, cells: cells)
    }

    static func describe(_ byte: UInt8) -> String {
        (0x20..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }
}

/// Big-endian reads over one message with offset-carrying errors.
struct WireReader {
    let bytes: ArraySlice<UInt8>
    private(set) var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    /// Bytes read so far.
    var offset: Int { position - bytes.startIndex }
    var remaining: Int { bytes.endIndex - position }

    private func short(_ what: String, need: Int) -> PgOutputDecodingError {
        PgOutputDecodingError(offset: offset, message: "message ends before \(what) (\(need) bytes needed, \(remaining) left)")
    }

    mutating func uint8(_ what: String) throws(PgOutputDecodingError) -> UInt8 {
        guard remaining >= 1 else { throw short(what, need: 1) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func bigEndian<T: FixedWidthInteger>(_ what: String, as: T.Type) throws(PgOutputDecodingError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw short(what, need: size) }
        var v: T = 0
        for i in position..<position + size { v = v << 8 | T(bytes[i]) }
        position += size
        return v
    }

    mutating func int16(_ what: String) throws(PgOutputDecodingError) -> Int16 {
        Int16(bitPattern: try bigEndian(what, as: UInt16.self))
    }
    mutating func int32(_ what: String) throws(PgOutputDecodingError) -> Int32 {
        Int32(bitPattern: try bigEndian(what, as: UInt32.self))
    }
    mutating func uint32(_ what: String) throws(PgOutputDecodingError) -> UInt32 { try bigEndian(what, as: UInt32.self) }
    mutating func int64(_ what: String) throws(PgOutputDecodingError) -> Int64 {
        Int64(bitPattern: try bigEndian(what, as: UInt64.self))
    }
    mutating func lsn(_ what: String) throws(PgOutputDecodingError) -> LSN { LSN(try bigEndian(what, as: UInt64.self)) }

    /// A PostgreSQL-epoch timestamp as Unix microseconds.
    mutating func timestamp(_ what: String) throws(PgOutputDecodingError) -> Int64 {
        PostgresEpoch.unixMicros(fromPostgres: try int64(what))
    }

    /// An Int32 length that must be ≥ 0.
    mutating func length(_ what: String) throws(PgOutputDecodingError) -> Int {
        let offset = self.offset
        let n = try int32(what)
        guard n >= 0 else { throw PgOutputDecodingError(offset: offset, message: "negative \(what) \(n)") }
        return Int(n)
    }

    /// Skips `count` bytes, returning their absolute range.
    mutating func skip(_ count: Int, _ what: String) throws(PgOutputDecodingError) -> Range<Int> {
        guard remaining >= count else { throw short(what, need: count) }
        defer { position += count }
        return position..<position + count
    }

    /// A NUL-terminated UTF-8 string.
    mutating func cString(_ what: String) throws(PgOutputDecodingError) -> String {
        guard let end = bytes[position...].firstIndex(of: 0) else {
            throw PgOutputDecodingError(offset: offset, message: "\(what) has no terminating NUL")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    mutating func expectTag(_ tag: UInt8, _ what: String) throws(PgOutputDecodingError) {
        let offset = self.offset
        let found = try uint8(what)
        guard found == tag else {
            throw PgOutputDecodingError(offset: offset, message: "expected \(what), found \(PgOutputDecoder.describe(found))")
        }
    }

    func expectEnd() throws(PgOutputDecodingError) {
        guard remaining == 0 else {
            throw PgOutputDecodingError(offset: offset, message: "\(remaining) unexpected bytes after the message")
        }
    }
}
