/// Reads the Avro binary encoding from a payload, checking every length against what is left.
///
/// Errors carry no path; the decoder adds the field path as they travel outward.
struct AvroCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0
    /// Array and map items still allowed in this payload: items of zero bytes (nulls, empty records)
    /// would otherwise let a ten-byte block count spin for hours.
    private var itemBudget: Int
    /// Current nesting of arrays, maps and records; bounded so hostile data cannot exhaust the stack.
    var depth = 0
    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        itemBudget = bytes.count + 100_000
    }

    var remaining: Int { bytes.count - position }

    static let truncated = CodecError("truncated payload")

    /// A zig-zag varint of at most ten bytes (64 bits).
    @inline(__always)
    mutating func readLong() throws -> Int64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw Self.truncated }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 { throw CodecError("varint longer than 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
        }
        return Int64(bitPattern: (result >> 1) ^ (0 &- (result & 1)))
    }

    @inline(__always)
    mutating func readInt() throws -> Int32 {
        let v = try readLong()
        guard let i = Int32(exactly: v) else { throw CodecError("int value \(v) does not fit 32 bits") }
        return i
    }

    @inline(__always)
    mutating func readBoolean() throws -> Bool {
        guard position < bytes.count else { throw Self.truncated }
        let b = bytes[position]
        position += 1
        guard b <= 1 else { throw CodecError("boolean byte \(b) is neither 0 nor 1") }
        return b == 1
    }

    @inline(__always)
    mutating func readFloat() throws -> Float {
        let raw = try readFixed(4)
        return Float(bitPattern: UInt32(raw[0]) | UInt32(raw[1]) << 8 | UInt32(raw[2]) << 16 | UInt32(raw[3]) << 24)
    }

    @inline(__always)
    mutating func readDouble() throws -> Double {
        let raw = try readFixed(8)
        var bits: UInt64 = 0
        for i in (0..<8).reversed() { bits = bits << 8 | UInt64(raw[i]) }
        return Double(bitPattern: bits)
    }

    /// `count` raw bytes, not copied.
    @inline(__always)
    mutating func readFixed(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count <= remaining else { throw Self.truncated }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
        position += count
        return slice
    }

    /// A length-prefixed value (bytes or string), not copied.
    @inline(__always)
    mutating func readBytes() throws -> UnsafeRawBufferPointer {
        let n = try readLong()
        guard n >= 0 else { throw CodecError("negative length \(n)") }
        guard n <= Int64(remaining) else { throw Self.truncated }
        return try readFixed(Int(n))
    }

    mutating func skip(_ count: Int) throws {
        guard count >= 0, count <= remaining else { throw Self.truncated }
        position += count
    }

    /// The item count of the next array or map block (0 ends the value) and, for a negative count,
    /// the block's byte size that follows it.
    mutating func readBlockHeader() throws -> (count: Int, byteSize: Int?) {
        let n = try readLong()
        if n >= 0 {
            try spend(n)
            return (Int(n), nil)
        }
        guard n != Int64.min else { throw CodecError("invalid block count \(n)") }
        try spend(-n)
        let size = try readLong()
        guard size >= 0, size <= Int64(remaining) else { throw CodecError("invalid block size \(size)") }
        return (Int(-n), Int(size))
    }

    private mutating func spend(_ n: Int64) throws {
        guard n <= Int64(itemBudget) else { throw CodecError("block count \(n) exceeds what the payload can hold") }
        itemBudget -= Int(n)
    }

    mutating func enter() throws {
        depth += 1
        guard depth <= Self.maxDepth else { throw CodecError("value nests deeper than \(Self.maxDepth) levels") }
    }

    mutating func leave() { depth -= 1 }
}
