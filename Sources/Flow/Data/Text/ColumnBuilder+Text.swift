extension ColumnBuilder {
    /// Parses canonical text (`ScalarParsing`: integers, decimals, floats, booleans, ISO dates,
    /// times and timestamps, uuids, hex bytes; `NumericText` for numeric) as a value of `type` and
    /// appends it; strings and json
    /// are appended as they are. Returns false, appending nothing, when the text is not a value of
    /// that type. With `timestampZoneMustMatch`, a timestamp must carry a zone exactly when the
    /// column is `timestamptz` (PostgreSQL's own output does; a mismatch means a wrong mapping).
    /// The one text-to-column path of every text-based decoder (CSV, JSON, pgoutput).
    @inline(__always)
    public mutating func append(text: UnsafeRawBufferPointer, timestampZoneMustMatch: Bool = false) -> Bool {
        switch type {
        case .string, .json, .list:
            append(bytes: text)
        case .int64:
            guard let v = ScalarParsing.int64(text) else { return false }
            append(v)
        case .int32:
            guard let v = ScalarParsing.int64(text), let x = Int32(exactly: v) else { return false }
            append(x)
        case .int16:
            guard let v = ScalarParsing.int64(text), let x = Int16(exactly: v) else { return false }
            append(x)
        case .float64:
            guard let v = ScalarParsing.double(text) else { return false }
            append(v)
        case .float32:
            guard let v = ScalarParsing.float(text) else { return false }
            append(v)
        case .decimal(let precision, let scale):
            guard let v = ScalarParsing.decimal(text, precision: precision, scale: scale) else { return false }
            append(v)
        case .numeric:
            return withUnsafeTemporaryAllocation(byteCount: NumericText.canonicalCapacity(text.count), alignment: 1) { out in
                guard let n = NumericText.writeCanonical(text, to: out) else { return false }
                append(bytes: UnsafeRawBufferPointer(rebasing: out[..<n]))
                return true
            }
        case .bool:
            guard let v = ScalarParsing.bool(text) else { return false }
            append(v)
        case .date:
            guard let v = ScalarParsing.date(text) else { return false }
            append(v)
        case .time:
            guard let v = ScalarParsing.time(text) else { return false }
            append(v)
        case .timestamp(let withTimeZone):
            guard let v = ScalarParsing.timestamp(text), !timestampZoneMustMatch || v.hasZone == withTimeZone else { return false }
            append(v.micros)
        case .uuid:
            return withUnsafeTemporaryAllocation(byteCount: 16, alignment: 1) { out in
                guard ScalarParsing.uuid(text, into: out) else { return false }
                append(bytes: UnsafeRawBufferPointer(out))
                return true
            }
        case .bytes:
            var decoded: [UInt8] = []
            decoded.reserveCapacity(text.count / 2)
            guard ScalarParsing.hex(text, into: &decoded) else { return false }
            decoded.withUnsafeBytes { append(bytes: $0) }
        }
        return true
    }
}
