/// A strict RFC 8259 reader over UTF-8 bytes that steps through values without building them:
/// the validator checks a payload as it walks it, so a valid payload costs no allocation beyond
/// the rare escaped object key.
struct JSONCursor {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ what: String) -> CodecError {
        at < bytes.count
            ? CodecError("invalid JSON: \(what) at byte \(at)")
            : CodecError("invalid JSON: \(what) at end of input")
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while at < bytes.count {
            let c = bytes[at]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            at += 1
        }
    }

    /// The next significant byte (whitespace skipped), or nil at the end.
    @inline(__always)
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return at < bytes.count ? bytes[at] : nil
    }

    mutating func expect(_ c: UInt8, _ what: String) throws(CodecError) {
        guard peek() == c else { throw fail("expected \(what)") }
        at += 1
    }

    /// After a value inside `[` / `{`: true when another element follows (a `,` was read), false
    /// at the closing byte (consumed).
    mutating func more(closing: UInt8) throws(CodecError) -> Bool {
        switch peek() {
        case UInt8(ascii: ","):
            at += 1
            return true
        case closing:
            at += 1
            return false
        default:
            throw fail(closing == UInt8(ascii: "]") ? "expected ',' or ']'" : "expected ',' or '}'")
        }
    }

    mutating func literal(_ word: StaticString) throws(CodecError) {
        let n = word.utf8CodeUnitCount
        guard bytes.count - at >= n else { throw fail("unexpected end") }
        for i in 0..<n where bytes[at + i] != word.utf8Start[i] { throw fail("invalid literal") }
        at += n
    }

    /// A string at the cursor (at its `"`). Returns the raw body range (between the quotes) and
    /// whether it holds escapes; control characters, bad escapes and invalid UTF-8 are errors.
    mutating func string() throws(CodecError) -> (body: Range<Int>, escaped: Bool) {
        guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        at += 1
        let start = at
        var escaped = false
        var ascii = true
        while true {
            guard at < bytes.count else { throw fail("unterminated string") }
            let c = bytes[at]
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw fail("control character in string") }
            if c >= 0x80 { ascii = false }
            if c == UInt8(ascii: "\\") {
                escaped = true
                at += 1
                guard at < bytes.count else { throw fail("unterminated string") }
                switch bytes[at] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard bytes.count - at > 4 else { throw fail("short \\u escape") }
                    for k in 1...4 where Self.hex(bytes[at + k]) == nil { throw fail("bad \\u escape") }
                    at += 4
                default: throw fail("bad escape")
                }
            }
            at += 1
        }
        let body = start..<at
        at += 1
        if !ascii && !JSONText.isValidUTF8(UnsafeRawBufferPointer(rebasing: bytes[body])) {
            throw CodecError("invalid UTF-8 in string")
        }
        return (body, escaped)
    }

    static func hex(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(c - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// The decoded UTF-8 of a string body with escapes (surrogate pairs joined; a lone surrogate
    /// becomes U+FFFD).
    func unescape(_ body: Range<Int>, into out: inout [UInt8]) {
        var i = body.lowerBound
        func hex4(_ k: Int) -> UInt32 {
            var v: UInt32 = 0
            for j in 0..<4 { v = v << 4 | (Self.hex(bytes[k + j]) ?? 0) }
            return v
        }
        while i < body.upperBound {
            let c = bytes[i]
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                i += 1
                continue
            }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= body.upperBound, bytes[i] == UInt8(ascii: "\\"),
                    bytes[i + 1] == UInt8(ascii: "u")
                {
                    let low = hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default: out.append(e)
            }
        }
    }

    /// A number at the cursor, checked against the JSON grammar. Returns its text range and
    /// whether the text has a fraction or exponent.
    mutating func number() throws(CodecError) -> (text: Range<Int>, plainInteger: Bool) {
        let start = at
        func digit() -> Bool { at < bytes.count && bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9") }
        if at < bytes.count && bytes[at] == UInt8(ascii: "-") { at += 1 }
        guard digit() else { throw fail("invalid number") }
        if bytes[at] == UInt8(ascii: "0") {
            at += 1
        } else {
            while digit() { at += 1 }
        }
        var plain = true
        if at < bytes.count && bytes[at] == UInt8(ascii: ".") {
            plain = false
            at += 1
            guard digit() else { throw fail("invalid number") }
            while digit() { at += 1 }
        }
        if at < bytes.count && (bytes[at] | 0x20) == UInt8(ascii: "e") {
            plain = false
            at += 1
            if at < bytes.count && (bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-")) { at += 1 }
            guard digit() else { throw fail("invalid number") }
            while digit() { at += 1 }
        }
        return (start..<at, plain)
    }

    func double(_ text: Range<Int>) -> Double {
        Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[text]), as: UTF8.self)) ?? .nan
    }

    /// Steps over one value of any kind, checking its syntax.
    mutating func skipValue(depth: Int = 0) throws(CodecError) {
        guard depth < JSONLimits.maxDepth else { throw fail("nesting deeper than \(JSONLimits.maxDepth)") }
        switch peek() {
        case UInt8(ascii: "{"):
            at += 1
            if peek() == UInt8(ascii: "}") {
                at += 1
                return
            }
            repeat {
                guard peek() != nil else { throw fail("unexpected end") }
                _ = try string()
                try expect(UInt8(ascii: ":"), "':'")
                try skipValue(depth: depth + 1)
            } while try more(closing: UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            at += 1
            if peek() == UInt8(ascii: "]") {
                at += 1
                return
            }
            repeat { try skipValue(depth: depth + 1) } while try more(closing: UInt8(ascii: "]"))
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case nil: throw fail("expected a value")
        default: _ = try number()
        }
    }

    /// After the top-level value: only whitespace may follow.
    mutating func end() throws(CodecError) {
        guard peek() == nil else { throw fail("unexpected data after the value") }
    }
}

enum JSONLimits {
    static let maxDepth = 256
}
