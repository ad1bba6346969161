import Flow

/// Writers of JSON text and the UTF-8 check shared by the codecs: values rendered into json
/// columns are appended to a reusable buffer, never built as strings first.
enum JSONText {
    /// Whether `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        var i = 0
        @inline(__always) func continuation(_ k: Int) -> Bool { k < n && bytes[k] & 0xC0 == 0x80 }
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                i += 1
                continue
            }
            if b < 0xC2 { return false }
            if b < 0xE0 {
                guard continuation(i + 1) else { return false }
                i += 2
            } else if b < 0xF0 {
                guard i + 2 < n else { return false }
                let b1 = bytes[i + 1]
                let ok1 = b == 0xE0 ? (0xA0...0xBF).contains(b1) : b == 0xED ? (0x80...0x9F).contains(b1) : b1 & 0xC0 == 0x80
                guard ok1, continuation(i + 2) else { return false }
                i += 3
            } else if b < 0xF5 {
                guard i + 3 < n else { return false }
                let b1 = bytes[i + 1]
                let ok1 = b == 0xF0 ? (0x90...0xBF).contains(b1) : b == 0xF4 ? (0x80...0x8F).contains(b1) : b1 & 0xC0 == 0x80
                guard ok1, continuation(i + 2), continuation(i + 3) else { return false }
                i += 4
            } else {
                return false
            }
        }
        return true
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// `bytes` (valid UTF-8) as a quoted JSON string: `"` and `\` escaped, control characters
    /// as `\n`-style or `\u00XX` escapes, everything else as is.
    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// Standard base64 with padding, quoted: how proto3 JSON writes `bytes`.
    static func appendBase64String(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        ScalarFormatting.appendBase64(bytes, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// A finite double as a JSON number (Swift's shortest round-trip digits); NaN and the
    /// infinities as the strings proto3 JSON uses (`"NaN"`, `"Infinity"`, `"-Infinity"`).
    static func appendDouble(_ v: Double, to out: inout [UInt8]) {
        if v.isNaN {
            out.append(contentsOf: "\"NaN\"".utf8)
        } else if v.isInfinite {
            out.append(contentsOf: (v < 0 ? "\"-Infinity\"" : "\"Infinity\"").utf8)
        } else {
            out.append(contentsOf: v.description.utf8)
        }
    }

    static func appendFloat(_ v: Float, to out: inout [UInt8]) {
        if v.isNaN || v.isInfinite {
            appendDouble(Double(v), to: &out)
        } else {
            out.append(contentsOf: v.description.utf8)
        }
    }
}
