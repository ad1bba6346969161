import Flow

/// Encodes batches as JSON Lines that `JSONLinesDecoder` reads back exactly.
///
/// Every field is written, NULL as `null`, in schema order. Integers, decimals (exact digits, exactly
/// `scale` fractional digits) and finite floats (shortest round-trip form) are JSON numbers;
/// non-finite floats are the strings `"nan"`, `"inf"`, `"-inf"`. Strings are escaped; json values are
/// written as their raw text; dates, times, timestamps (ISO 8601, `Z` with time zone), uuids and
/// bytes (hex) are JSON strings of their canonical text. Lines end with LF.
public struct JSONLinesEncoder: Sendable {
    public let schema: Schema
    /// `"name":` for each field, with a leading comma from the second field on.
    private let keyPrefixes: [[UInt8]]

    public init(schema: Schema) {
        self.schema = schema
        self.keyPrefixes = schema.fields.enumerated().map { i, field in
            var out: [UInt8] = i == 0 ? [] : [UInt8(ascii: ",")]
            let name = Array(field.name.utf8)
            name.withUnsafeBytes { JSONLinesEncoder.appendString($0, to: &out) }
            out.append(UInt8(ascii: ":"))
            return out
        }
    }

    public func encode(_ batch: Batch, into out: inout [UInt8]) {
        encode(batch, rows: 0..<batch.rowCount, into: &out)
    }

    /// Appends rows `rows` of `batch`, one object per line.
    public func encode(_ batch: Batch, rows: Range<Int>, into out: inout [UInt8]) {
        let columns = batch.columns
        for row in rows {
            out.append(UInt8(ascii: "{"))
            for c in 0..<columns.count {
                out.append(contentsOf: keyPrefixes[c])
                let column = columns[c]
                if column.isNull(row) {
                    out.append(contentsOf: "null".utf8)
                    continue
                }
                switch column.type {
                case .bool, .int16, .int32, .int64, .decimal:
                    ColumnText.appendText(of: column, row: row, to: &out)
                case .float32, .float64, .numeric:  // NaN and infinities as strings
                    let start = out.count
                    ColumnText.appendText(of: column, row: row, to: &out)
                    let first = out[start] == UInt8(ascii: "-") ? start + 1 : start
                    if first < out.count, ScalarParsing.digit(out[first]) == nil {
                        out.insert(UInt8(ascii: "\""), at: start)
                        out.append(UInt8(ascii: "\""))
                    }
                case .string:
                    column.withBytes(at: row) { Self.appendString($0, to: &out) }
                case .json, .list:
                    column.withBytes(at: row) { raw in
                        if raw.isEmpty { out.append(contentsOf: "null".utf8) } else { out.append(contentsOf: raw) }
                    }
                case .date, .time, .timestamp, .uuid, .bytes:
                    out.append(UInt8(ascii: "\""))
                    ColumnText.appendText(of: column, row: row, to: &out)
                    out.append(UInt8(ascii: "\""))
                }
            }
            out.append(contentsOf: "}\n".utf8)
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` as a quoted, escaped JSON string.
    public static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// Appends `raw` (UTF-8) as a quoted, escaped JSON string.
    public static func appendString(_ raw: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var clean = 0
        for i in 0..<raw.count {
            let c = raw[i]
            guard c < 0x20 || c == 0x22 || c == 0x5C else { continue }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[clean..<i]))
            clean = i + 1
            out.append(0x5C)
            switch c {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            default:
                out.append(contentsOf: "u00".utf8)
                out.append(hexDigits[Int(c >> 4)])
                out.append(hexDigits[Int(c & 15)])
            }
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[clean..<raw.count]))
        out.append(UInt8(ascii: "\""))
    }
}
