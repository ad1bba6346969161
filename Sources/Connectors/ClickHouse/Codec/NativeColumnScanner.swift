import Flow

/// Measures Native column data without decoding it: the decoder first checks that a whole block has
/// arrived, then decodes it in one pass.
enum NativeColumnScanner {
    /// LowCardinality index flags (SerializationLowCardinality): the low byte is the index width code.
    static let needGlobalDictionary: UInt64 = 1 << 8
    static let hasAdditionalKeys: UInt64 = 1 << 9
    /// The only key serialization version ClickHouse writes (shared dictionaries with additional keys).
    static let keysVersion: UInt64 = 1

    /// Bytes one value of `type` takes when every value takes the same (nil for String, Array,
    /// Nullable, LowCardinality).
    static func fixedWidth(of type: ClickHouseType) -> Int? {
        switch type {
        case .int8, .uint8, .bool, .enum8: 1
        case .int16, .uint16, .date, .enum16: 2
        case .int32, .uint32, .float32, .date32, .dateTime: 4
        case .int64, .uint64, .float64, .dateTime64: 8
        case .decimal(let p, _): p <= 9 ? 4 : p <= 18 ? 8 : p <= 38 ? 16 : 32
        case .uuid: 16
        case .fixedString(let n): n
        case .string, .nullable, .lowCardinality, .array, .unsupported: nil
        }
    }

    /// Advances `r` past `rows` values of `type`.
    /// - Throws: `ShortRead` when the bytes end first; `DponeError(.source)` when they cannot be Native data.
    static func skip(_ type: ClickHouseType, rows: Int, _ r: inout ByteReader) throws {
        guard rows > 0 else { return }
        if let w = fixedWidth(of: type) {
            let (n, overflow) = rows.multipliedReportingOverflow(by: w)
            guard !overflow else { throw malformed("a column larger than memory") }
            try r.skip(n)
            return
        }
        switch type {
        case .string:
            for _ in 0..<rows { _ = try r.string() }
        case .nullable(let inner):
            try r.skip(rows)
            try skip(inner, rows: rows, &r)
        case .array(let inner):
            try r.skip((rows - 1) * 8)
            let total = try r.read(UInt64.self)
            guard total <= UInt64(Int32.max) else { throw malformed("an array column of \(total) elements") }
            try skip(inner, rows: Int(total), &r)
        case .lowCardinality(let inner):
            let header = try lowCardinalityHeader(&r)
            let keys = try r.read(UInt64.self)
            guard keys <= UInt64(Int32.max) else { throw malformed("a LowCardinality dictionary of \(keys) keys") }
            try skip(dictionaryType(inner), rows: Int(keys), &r)
            let indexes = try r.read(UInt64.self)
            guard indexes == UInt64(rows) else { throw malformed("LowCardinality with \(indexes) indexes for \(rows) rows") }
            try r.skip(rows * header.indexWidth)
        default:
            throw malformed("a column of type \(type.name)")
        }
    }

    /// Reads the key version and index flags that open a LowCardinality column with rows.
    static func lowCardinalityHeader(_ r: inout ByteReader) throws -> (indexWidth: Int, flags: UInt64) {
        let version = try r.read(UInt64.self)
        guard version == keysVersion else { throw malformed("LowCardinality key version \(version)") }
        let flags = try r.read(UInt64.self)
        guard flags & needGlobalDictionary == 0, flags & hasAdditionalKeys != 0 else {
            throw malformed("a LowCardinality column with a global dictionary")
        }
        let code = flags & 0xFF
        guard code <= 3 else { throw malformed("LowCardinality index type \(code)") }
        return (1 << Int(code), flags)
    }

    /// The type of a LowCardinality column's dictionary keys: the inner type without Nullable (NULL is key 0).
    static func dictionaryType(_ inner: ClickHouseType) -> ClickHouseType {
        if case .nullable(let t) = inner { return t }
        return inner
    }

    static func malformed(_ what: String) -> DponeError {
        DponeError(.source, "malformed ClickHouse Native data: \(what)")
    }
}
