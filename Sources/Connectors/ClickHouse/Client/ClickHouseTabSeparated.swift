/// ClickHouse's `TabSeparated` text format: rows end with `\n`, fields are separated by `\t`, and
/// inside a field `\b \f \n \r \t \0 \\ \'` (and, when reading, `\a \v \e \xHH` and `\` before any
/// other character) are escapes. A field that is exactly `\N` is NULL.
///
/// For metadata and small results only; the data path uses Native/RowBinary.
public enum ClickHouseTabSeparated {
    /// Every row of `bytes` as fields; NULL (`\N`) as nil. A final row without its `\n` is kept; an
    /// empty input is no rows. Invalid UTF-8 is repaired with U+FFFD.
    public static func parse(_ bytes: [UInt8]) -> [[String?]] {
        var rows: [[String?]] = []
        var row: [String?] = []
        var fieldStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            switch bytes[i] {
            case UInt8(ascii: "\\"):
                i += 2  // the escaped byte can be neither a separator nor a row end
                continue
            case UInt8(ascii: "\t"):
                row.append(field(bytes[fieldStart..<i]))
                fieldStart = i + 1
            case UInt8(ascii: "\n"):
                row.append(field(bytes[fieldStart..<i]))
                rows.append(row)
                row = []
                fieldStart = i + 1
            default: break
            }
            i += 1
        }
        if fieldStart < n {
            row.append(field(bytes[fieldStart..<n]))
            rows.append(row)
        } else if !row.isEmpty {
            row.append("")
            rows.append(row)
        }
        return rows
    }

    /// One field: nil for `\N`, else the unescaped text.
    public static func field(_ raw: ArraySlice<UInt8>) -> String? {
        if raw.count == 2, raw[raw.startIndex] == UInt8(ascii: "\\"), raw[raw.startIndex + 1] == UInt8(ascii: "N") {
            return nil
        }
        return unescape(raw)
    }

    /// The text of an escaped field (see the type's escapes; `\xHH` is one byte).
    public static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            guard b == UInt8(ascii: "\\"), i + 1 < raw.endIndex else {
                out.append(b)
                i += 1
                continue
            }
            let c = raw[i + 1]
            i += 2
            switch c {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "0"): out.append(0x00)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "e"): out.append(0x1B)
            case UInt8(ascii: "x"):
                if i + 1 < raw.endIndex, let h = hex(raw[i]), let l = hex(raw[i + 1]) {
                    out.append(h << 4 | l)
                    i += 2
                } else {
                    out.append(c)
                }
            default: out.append(c)  // \\ \' \" \/ and anything else: the character itself
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` escaped for a TabSeparated field, as ClickHouse writes it (`\b \f \n \r \t \0 \\ \'`).
    /// nil becomes `\N`.
    public static func escape(_ text: String?) -> String {
        guard let text else { return "\\N" }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\u{08}": out.append(contentsOf: "\\b".unicodeScalars)
            case "\u{0C}": out.append(contentsOf: "\\f".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\0": out.append(contentsOf: "\\0".unicodeScalars)
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "'": out.append(contentsOf: "\\'".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
