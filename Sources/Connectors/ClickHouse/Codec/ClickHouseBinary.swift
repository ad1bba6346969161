/// Little-endian writes of ClickHouse's binary formats (Native, RowBinary, compressed block headers).
enum ClickHouseBinary {
    @inline(__always)
    static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    /// LEB128: seven bits a byte, least significant first, high bit set on all but the last.
    @inline(__always)
    static func appendVarUInt(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: v))
    }

    /// A ClickHouse `String`: VarUInt length, then the bytes.
    @inline(__always)
    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        appendVarUInt(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// A Flow uuid (16 bytes in text order) as ClickHouse stores it: the two 8-byte halves, each as a
    /// little-endian UInt64, so each half's bytes are reversed.
    @inline(__always)
    static func appendUUID(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for k in (0..<8).reversed() { out.append(bytes[k]) }
        for k in (8..<16).reversed() { out.append(bytes[k]) }
    }
}

/// Thrown by `ByteReader` when the buffer ends before the value does.
struct ShortRead: Error {}

/// A bounds-checked little-endian cursor over borrowed bytes.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    @inline(__always)
    mutating func skip(_ n: Int) throws(ShortRead) {
        guard n >= 0, n <= remaining else { throw ShortRead() }
        offset += n
    }

    /// `n` bytes at the cursor, then advances.
    @inline(__always)
    mutating func take(_ n: Int) throws(ShortRead) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw ShortRead() }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }

    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(ShortRead) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw ShortRead() }
        defer { offset += size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    @inline(__always)
    mutating func varUInt() throws(ShortRead) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw ShortRead() }
            let b = bytes[offset]
            offset += 1
            if shift < 64 { v |= UInt64(b & 0x7F) << shift }
            if b & 0x80 == 0 { return v }
            shift += 7
            // ClickHouse writes at most 10 bytes (9 continuation bytes); more is malformed, but bounded.
            if shift > 63 { return v }
        }
    }

    /// A ClickHouse `String` (VarUInt length + bytes), borrowed.
    @inline(__always)
    mutating func string() throws(ShortRead) -> UnsafeRawBufferPointer {
        let n = try varUInt()
        guard n <= UInt64(remaining) else { throw ShortRead() }
        return try take(Int(n))
    }
}

/// Little-endian loads at a byte offset, for decoding validated buffers.
extension UnsafeRawBufferPointer {
    @inline(__always)
    func le<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
