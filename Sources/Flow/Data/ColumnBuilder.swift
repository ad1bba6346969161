/// Appends values of one logical type; `finish()` hands out an immutable `Column` and resets.
///
/// Sources decode straight into builders: call exactly one `append…` or `appendNull()` per row,
/// with the method that matches `type.physical` (a mismatch is a programming error and traps).
public struct ColumnBuilder: Sendable {
    public let type: LogicalType
    public let physical: PhysicalLayout
    public private(set) var count = 0
    private var validity = BitmapBuilder()
    private var bools: [Bool] = []
    private var i16: [Int16] = []
    private var i32: [Int32] = []
    private var i64: [Int64] = []
    private var f32: [Float] = []
    private var f64: [Double] = []
    private var i128: [Int128] = []
    private var offsets: [Int32] = []
    private var bytes: [UInt8] = []

    public init(type: LogicalType, reservingCapacity capacity: Int = 0) {
        self.type = type
        self.physical = type.physical
        reset(capacity: capacity)
    }

    private mutating func reset(capacity: Int) {
        count = 0
        validity = BitmapBuilder()
        switch physical {
        case .bool: bools = []; bools.reserveCapacity(capacity)
        case .int16: i16 = []; i16.reserveCapacity(capacity)
        case .int32: i32 = []; i32.reserveCapacity(capacity)
        case .int64: i64 = []; i64.reserveCapacity(capacity)
        case .float32: f32 = []; f32.reserveCapacity(capacity)
        case .float64: f64 = []; f64.reserveCapacity(capacity)
        case .int128: i128 = []; i128.reserveCapacity(capacity)
        case .variable:
            offsets = [0]
            offsets.reserveCapacity(capacity + 1)
            bytes = []
        case .fixed16: bytes = []; bytes.reserveCapacity(capacity * 16)
        }
    }

    /// Bytes appended so far (values, offsets and the bitmap).
    public var byteCount: Int {
        switch physical {
        case .variable: return offsets.count * 4 + bytes.count + validity.byteCount
        case .fixed16: return bytes.count + validity.byteCount
        default: return count * physical.width + validity.byteCount
        }
    }

    public mutating func appendNull() {
        validity.append(false)
        count += 1
        switch physical {
        case .bool: bools.append(false)
        case .int16: i16.append(0)
        case .int32: i32.append(0)
        case .int64: i64.append(0)
        case .float32: f32.append(0)
        case .float64: f64.append(0)
        case .int128: i128.append(0)
        case .variable: offsets.append(Int32(bytes.count))
        case .fixed16: bytes.append(contentsOf: repeatElement(0, count: 16))
        }
    }

    @inline(__always) private mutating func valid() {
        validity.append(true)
        count += 1
    }

    @inline(__always) public mutating func append(_ v: Bool) { bools.append(v); valid() }
    @inline(__always) public mutating func append(_ v: Int16) { i16.append(v); valid() }
    @inline(__always) public mutating func append(_ v: Int32) { i32.append(v); valid() }
    @inline(__always) public mutating func append(_ v: Int64) { i64.append(v); valid() }
    @inline(__always) public mutating func append(_ v: Float) { f32.append(v); valid() }
    @inline(__always) public mutating func append(_ v: Double) { f64.append(v); valid() }
    @inline(__always) public mutating func append(_ v: Int128) { i128.append(v); valid() }

    /// Appends a variable-width value (UTF-8 for strings and json) or, for uuid, exactly 16 bytes.
    @inline(__always)
    public mutating func append(bytes value: UnsafeRawBufferPointer) {
        if physical == .fixed16 {
            precondition(value.count == 16, "a uuid value is 16 bytes")
            bytes.append(contentsOf: value)
            valid()
            return
        }
        bytes.append(contentsOf: value)
        precondition(bytes.count <= Int(Int32.max), "a column of one batch holds at most 2 GiB")
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
        valid()
    }

    @inline(__always)
    public mutating func append(bytes value: some Collection<UInt8>) {
        if let done: Void = value.withContiguousStorageIfAvailable({ append(bytes: UnsafeRawBufferPointer($0)) }) {
            return done
        }
        let copy = Array(value)
        copy.withUnsafeBytes { append(bytes: $0) }
    }

    public mutating func append(string value: String) {
        var v = value
        v.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Appends a scalar, converting where the value's kind fits the column's type.
    /// For tests, state and row-shaped edges; returns false when the value does not fit.
    @discardableResult
    public mutating func append(value: Value) -> Bool {
        switch (value, physical) {
        case (.null, _): appendNull()
        case (.bool(let b), .bool): append(b)
        case (.int(let v), .int16): guard let x = Int16(exactly: v) else { return false }; append(x)
        case (.int(let v), .int32): guard let x = Int32(exactly: v) else { return false }; append(x)
        case (.int(let v), .int64): append(v)
        case (.int(let v), .int128): append(Int128(v))
        case (.float(let v), .float32): append(Float(v))
        case (.float(let v), .float64): append(v)
        case (.decimal(let v, _), .int128): append(v)
        case (.date(let d), .int32): append(d)
        case (.time(let t), .int64): append(t)
        case (.timestamp(let t, _), .int64): append(t)
        case (.string(let s), .variable), (.json(let s), .variable): append(string: s)
        case (.bytes(let b), .variable): append(bytes: b)
        case (.uuid(let b), .fixed16): guard b.count == 16 else { return false }; append(bytes: b)
        default: return false
        }
        return true
    }

    /// Drops the rows `newCount...`: a decoder that fails half-way through a row (a poison message)
    /// takes back what it appended, so every column keeps the same row count.
    public mutating func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate beyond the column")
        guard newCount < count else { return }
        let removed = count - newCount
        validity.truncate(to: newCount)
        switch physical {
        case .bool: bools.removeLast(removed)
        case .int16: i16.removeLast(removed)
        case .int32: i32.removeLast(removed)
        case .int64: i64.removeLast(removed)
        case .float32: f32.removeLast(removed)
        case .float64: f64.removeLast(removed)
        case .int128: i128.removeLast(removed)
        case .variable:
            offsets.removeLast(removed)
            bytes.removeLast(bytes.count - Int(offsets[offsets.count - 1]))
        case .fixed16: bytes.removeLast(removed * 16)
        }
        count = newCount
    }

    /// Returns the column built so far and starts an empty one with the same capacity hint.
    public mutating func finish(reservingCapacity capacity: Int = 0) -> Column {
        let values: ColumnValues
        switch physical {
        case .bool: values = .bool(bools)
        case .int16: values = .int16(i16)
        case .int32: values = .int32(i32)
        case .int64: values = .int64(i64)
        case .float32: values = .float32(f32)
        case .float64: values = .float64(f64)
        case .int128: values = .int128(i128)
        case .variable: values = .variable(offsets: offsets, bytes: bytes)
        case .fixed16: values = .fixed16(bytes)
        }
        let column = Column(type: type, count: count, validity: validity.finish(), values: values)
        reset(capacity: capacity)
        return column
    }
}
