import Flow

/// Moves values between canonical text and columns, by the column's logical type.
///
/// The one place both codecs (CSV, JSON Lines) and the incremental cursor convert text: what the
/// encoders write, the decoders read back exactly. The scalar grammar itself lives in Flow
/// (`ScalarParsing`, `ScalarFormatting`), shared with the operators' casts and filters.
package enum ColumnText {
    /// Whether a type's text is the value itself (no parsing): string, json, and bytes (hex).
    /// For the other types an empty field is NULL and surrounding spaces are ignored.
    @inline(__always)
    static func isText(_ type: LogicalType) -> Bool {
        switch type {
        case .string, .json, .bytes: return true
        default: return false
        }
    }

    /// Parses `text` as a value of `builder.type` and appends it. Returns false, appending nothing,
    /// when the text is not a valid value of that type.
    @inline(__always)
    package static func append(_ text: UnsafeRawBufferPointer, to builder: inout ColumnBuilder) -> Bool {
        builder.append(text: text)
    }

    /// Trims ASCII spaces and tabs from both ends (non-text types tolerate padding).
    @inline(__always)
    static func trimmed(_ b: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var lo = 0
        var hi = b.count
        while lo < hi && (b[lo] == 0x20 || b[lo] == 0x09) { lo += 1 }
        while hi > lo && (b[hi - 1] == 0x20 || b[hi - 1] == 0x09) { hi -= 1 }
        if lo == 0 && hi == b.count { return b }
        return UnsafeRawBufferPointer(rebasing: b[lo..<hi])
    }

    /// Appends the canonical text of the non-NULL value at `row` (strings, json: the bytes as is).
    @inline(__always)
    static func appendText(of column: Column, row: Int, to out: inout [UInt8]) {
        switch column.values {
        case .bool(let a): ScalarFormatting.appendBool(a[row], to: &out)
        case .int16(let a): ScalarFormatting.appendInt(Int64(a[row]), to: &out)
        case .int32(let a):
            if column.type == .date {
                ScalarFormatting.appendDate(days: a[row], to: &out)
            } else {
                ScalarFormatting.appendInt(Int64(a[row]), to: &out)
            }
        case .int64(let a):
            switch column.type {
            case .time: ScalarFormatting.appendTime(micros: a[row], to: &out)
            case .timestamp(let tz): ScalarFormatting.appendTimestamp(micros: a[row], withTimeZone: tz, to: &out)
            default: ScalarFormatting.appendInt(a[row], to: &out)
            }
        case .float32(let a): ScalarFormatting.appendFloat(a[row], to: &out)
        case .float64(let a): ScalarFormatting.appendDouble(a[row], to: &out)
        case .int128(let a):
            var scale = 0
            if case .decimal(_, let s) = column.type { scale = s }
            ScalarFormatting.appendDecimal(a[row], scale: scale, to: &out)
        case .variable:
            column.withBytes(at: row) { raw in
                if column.type == .bytes {
                    ScalarFormatting.appendHex(raw, to: &out)
                } else {
                    out.append(contentsOf: raw)
                }
            }
        case .fixed16:
            column.withBytes(at: row) { ScalarFormatting.appendUUID($0, to: &out) }
        }
    }

    /// The canonical text of a scalar of `type` (cursor state, diagnostics).
    package static func text(of value: Value, as type: LogicalType) -> String? {
        if value.isNull { return nil }
        var builder = ColumnBuilder(type: type)
        guard builder.append(value: value) else { return nil }
        let column = builder.finish()
        var out: [UInt8] = []
        appendText(of: column, row: 0, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses canonical text into a scalar of `type`, or nil when invalid.
    package static func value(parsing text: String, as type: LogicalType) -> Value? {
        var builder = ColumnBuilder(type: type)
        var copy = text
        let ok = copy.withUTF8 { utf8 -> Bool in
            let raw = UnsafeRawBufferPointer(utf8)
            return append(isText(type) ? raw : trimmed(raw), to: &builder)
        }
        guard ok else { return nil }
        return builder.finish().value(at: 0)
    }

    /// A value quoted for an error message, cut to 100 bytes.
    static func quotedForMessage(_ b: UnsafeRawBufferPointer) -> String {
        let cut = b.count > 100 ? UnsafeRawBufferPointer(rebasing: b[0..<100]) : b
        return "'" + String(decoding: cut, as: UTF8.self) + (b.count > 100 ? "…'" : "'")
    }
}
