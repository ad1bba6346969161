/// The protobuf wire format's primitives: varints, zigzag, little-endian fixed values and
/// length-delimited records, read with bounds checks (payloads are untrusted) and written into a
/// reusable byte buffer.
struct ProtoWireReader {
    let bytes: UnsafeRawBufferPointer
    var at: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.at = start
        self.end = end ?? bytes.count
    }

    var isAtEnd: Bool { at >= end }

    /// A base-128 varint of at most 10 bytes whose value fits 64 bits.
    @inline(__always)
    mutating func varint() throws(CodecError) -> UInt64 {
        if at < end, bytes[at] < 0x80 {
            at += 1
            return UInt64(bytes[at - 1])
        }
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var i = 0
        while true {
            guard at < end else { throw CodecError("truncated varint") }
            let b = bytes[at]
            at += 1
            if i == 9 {
                guard b & 0x80 == 0 else { throw CodecError("varint longer than 10 bytes") }
                guard b <= 1 else { throw CodecError("varint overflows 64 bits") }
            }
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
            i += 1
        }
    }

    mutating func fixed32() throws(CodecError) -> UInt32 {
        guard end - at >= 4 else { throw CodecError("truncated fixed32") }
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[at + k]) << (8 * UInt32(k)) }
        at += 4
        return v
    }

    mutating func fixed64() throws(CodecError) -> UInt64 {
        guard end - at >= 8 else { throw CodecError("truncated fixed64") }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * UInt64(k)) }
        at += 8
        return v
    }

    /// The byte range of a length-delimited record (its length prefix consumed).
    mutating func lengthDelimited() throws(CodecError) -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - at) else { throw CodecError("truncated length-delimited value (\(n) bytes declared, \(end - at) left)") }
        let start = at
        at += Int(n)
        return start..<at
    }

    /// Steps over the value of a field the schema does not know. Groups (deprecated) are stepped
    /// over too, to their matching end tag; a stray or mismatched end tag is an error.
    mutating func skip(_ wire: ProtoWireType, number: UInt64, depth: Int = 0) throws(CodecError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        case .startGroup:
            guard depth < ProtoLimits.maxDepth else { throw CodecError("groups nested deeper than \(ProtoLimits.maxDepth)") }
            while true {
                guard !isAtEnd else { throw CodecError("unterminated group (field \(number))") }
                let (n, w) = try tag()
                if w == .endGroup {
                    guard n == number else { throw CodecError("group of field \(number) ended by field \(n)") }
                    return
                }
                try skip(w, number: n, depth: depth + 1)
            }
        case .endGroup: throw CodecError("end-group tag without a group (field \(number))")
        }
    }

    /// A field tag: number (1 ... 2^29-1) and wire type.
    @inline(__always)
    mutating func tag() throws(CodecError) -> (number: UInt64, wire: ProtoWireType) {
        let t = try varint()
        let number = t >> 3
        guard number >= 1, number <= UInt64(ProtoParser.maxFieldNumber) else {
            throw CodecError("invalid field number \(number)")
        }
        guard let wire = ProtoWireType(rawValue: UInt8(t & 7)) else {
            throw CodecError("invalid wire type \(t & 7) (field \(number))")
        }
        return (number, wire)
    }
}

enum ProtoLimits {
    /// Nesting beyond this is refused rather than risking the stack on a hostile payload.
    static let maxDepth = 100
}

/// Writers of the wire format.
enum ProtoWire {
    @inline(__always)
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always)
    static func appendTag(_ number: Int32, _ wire: ProtoWireType, to out: inout [UInt8]) {
        appendVarint(UInt64(UInt32(bitPattern: number)) << 3 | UInt64(wire.rawValue), to: &out)
    }

    static func appendFixed32(_ v: UInt32, to out: inout [UInt8]) {
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) }
    }

    static func appendFixed64(_ v: UInt64, to out: inout [UInt8]) {
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }

    /// A length-delimited record whose body `body` appends; the length prefix is written after
    /// the body is known, moving the body only when it is 128 bytes or longer.
    static func appendLengthDelimited(to out: inout [UInt8], _ body: (inout [UInt8]) throws(CodecError) -> Void) throws(CodecError) {
        let lengthAt = out.count
        out.append(0)
        try body(&out)
        let n = out.count - lengthAt - 1
        if n < 0x80 {
            out[lengthAt] = UInt8(n)
        } else {
            var prefix: [UInt8] = []
            appendVarint(UInt64(n), to: &prefix)
            out.replaceSubrange(lengthAt..<lengthAt + 1, with: prefix)
        }
    }

    @inline(__always) static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    @inline(__always) static func zigzag(_ v: Int32) -> UInt64 { UInt64(UInt32(bitPattern: (v << 1) ^ (v >> 31))) }
    @inline(__always) static func unzigzag64(_ v: UInt64) -> Int64 { Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1))) }
    @inline(__always) static func unzigzag32(_ v: UInt64) -> Int32 {
        let u = UInt32(truncatingIfNeeded: v)
        return Int32(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }
}
