/// Appends values in the Avro binary encoding.
enum AvroBinaryWriter {
    /// A zig-zag varint: 0 → 00, -1 → 01, 1 → 02, 64 → 80 01.
    @inline(__always)
    static func writeLong(_ v: Int64, to out: inout [UInt8]) {
        var z = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        while z >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: z) | 0x80)
            z >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: z))
    }

    @inline(__always)
    static func writeFloat(_ v: Float, to out: inout [UInt8]) {
        let bits = v.bitPattern
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: bits >> (8 * i))) }
    }

    @inline(__always)
    static func writeDouble(_ v: Double, to out: inout [UInt8]) {
        let bits = v.bitPattern
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: bits >> (8 * i))) }
    }

    @inline(__always)
    static func writeBytes(_ v: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        writeLong(Int64(v.count), to: &out)
        out.append(contentsOf: v)
    }

    /// The shortest big-endian two's-complement bytes of `v` (the decimal logical type's payload).
    static func decimalBytes(_ v: Int128) -> [UInt8] {
        var bytes: [UInt8] = []
        let bits = UInt128(bitPattern: v)
        for i in (0..<16).reversed() { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * i))) }
        // Drop leading sign-extension bytes while the next byte still carries the sign.
        var start = 0
        while start < 15 {
            let b = bytes[start], next = bytes[start + 1]
            if (b == 0 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) { start += 1 } else { break }
        }
        return Array(bytes[start...])
    }

    /// `v` as exactly `size` big-endian two's-complement bytes, or nil when it does not fit.
    static func decimalBytes(_ v: Int128, size: Int) -> [UInt8]? {
        let minimal = decimalBytes(v)
        guard minimal.count <= size else { return nil }
        let pad: UInt8 = v < 0 ? 0xFF : 0
        return Array(repeating: pad, count: size - minimal.count) + minimal
    }
}
