/// The values of one column, laid out by physical kind.
public enum ColumnValues: Sendable {
    case bool([Bool])
    case int16([Int16])
    case int32([Int32])
    case int64([Int64])
    case float32([Float])
    case float64([Double])
    case int128([Int128])
    /// Value i is `bytes[offsets[i]..<offsets[i+1]]`; `offsets.count == count + 1`.
    case variable(offsets: [Int32], bytes: [UInt8])
    /// Value i is `bytes[16*i..<16*i+16]`.
    case fixed16([UInt8])
}

/// An immutable column: values plus an optional validity bitmap (nil when no value is NULL).
///
/// The slot of a NULL value holds a zero / empty placeholder.
public struct Column: Sendable {
    public let type: LogicalType
    public let count: Int
    public let validity: Bitmap?
    public let values: ColumnValues
    /// Bytes held by the values and the bitmap; computed once.
    public let byteCount: Int

    public init(type: LogicalType, count: Int, validity: Bitmap?, values: ColumnValues) {
        self.type = type
        self.count = count
        self.validity = validity
        self.values = values
        let valueBytes: Int
        switch values {
        case .bool(let a): valueBytes = a.count
        case .int16(let a): valueBytes = a.count * 2
        case .int32(let a): valueBytes = a.count * 4
        case .int64(let a): valueBytes = a.count * 8
        case .float32(let a): valueBytes = a.count * 4
        case .float64(let a): valueBytes = a.count * 8
        case .int128(let a): valueBytes = a.count * 16
        case .variable(let o, let b): valueBytes = o.count * 4 + b.count
        case .fixed16(let b): valueBytes = b.count
        }
        self.byteCount = valueBytes + (validity?.byteCount ?? 0)
    }

    public var nullCount: Int {
        guard let validity else { return 0 }
        var n = 0
        for i in 0..<count where !validity.isSet(i) { n += 1 }
        return n
    }

    @inline(__always)
    public func isNull(_ i: Int) -> Bool {
        guard let validity else { return false }
        return !validity.isSet(i)
    }

    /// The value at row `i` as a scalar. For tests, state and predicates — not for bulk data paths,
    /// which switch on `values` once per column.
    public func value(at i: Int) -> Value {
        if isNull(i) { return .null }
        switch values {
        case .bool(let a): return .bool(a[i])
        case .int16(let a): return .int(Int64(a[i]))
        case .int32(let a):
            return type == .date ? .date(a[i]) : .int(Int64(a[i]))
        case .int64(let a):
            switch type {
            case .time: return .time(a[i])
            case .timestamp(let tz): return .timestamp(a[i], withTimeZone: tz)
            default: return .int(a[i])
            }
        case .float32(let a): return .float(Double(a[i]))
        case .float64(let a): return .float(a[i])
        case .int128(let a):
            if case .decimal(_, let s) = type { return .decimal(a[i], scale: s) }
            return .decimal(a[i], scale: 0)
        case .variable(let offsets, let bytes):
            let slice = Array(bytes[Int(offsets[i])..<Int(offsets[i + 1])])
            switch type {
            case .bytes: return .bytes(slice)
            case .json, .list: return .json(String(decoding: slice, as: UTF8.self))
            default: return .string(String(decoding: slice, as: UTF8.self))
            }
        case .fixed16(let bytes):
            return .uuid(Array(bytes[16 * i..<16 * i + 16]))
        }
    }

    /// Calls `body` with the raw bytes of a variable-width value without copying.
    @inline(__always)
    public func withBytes<R>(at i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch values {
        case .variable(let offsets, let bytes):
            return try bytes.withUnsafeBytes { raw in
                try body(UnsafeRawBufferPointer(rebasing: raw[Int(offsets[i])..<Int(offsets[i + 1])]))
            }
        case .fixed16(let bytes):
            return try bytes.withUnsafeBytes { raw in
                try body(UnsafeRawBufferPointer(rebasing: raw[16 * i..<16 * i + 16]))
            }
        default:
            preconditionFailure("withBytes(at:) on a fixed-width column of type \(type)")
        }
    }
}
