import Flow

/// A JSON syntax error at a byte offset of the text being scanned.
struct JSONSyntaxError: Error {
    let message: String
}

/// What a scanned JSON value is.
enum JSONTokenKind: Sendable {
    case string, number, `true`, `false`, null, object, array
}

/// One scanned JSON value: its raw text is `start..<end` (strings include their quotes).
struct JSONToken {
    var kind: JSONTokenKind
    var start: Int
    var end: Int
    /// For strings: the content holds backslash escapes.
    var hasEscapes = false
}

/// A hand-written scanner over one JSON text (a line of a JSON Lines file). No allocation except
/// when unescaping strings into a caller's scratch buffer.
struct JSONScanner {
    let b: UnsafeRawBufferPointer
    var i = 0

    init(_ b: UnsafeRawBufferPointer) { self.b = b }

    var atEnd: Bool { i >= b.count }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < b.count {
            let c = b[i]
            guard c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D else { return }
            i += 1
        }
    }

    @inline(__always)
    var peek: UInt8? { i < b.count ? b[i] : nil }

    mutating func expect(_ c: UInt8, _ what: String) throws {
        guard i < b.count, b[i] == c else {
            throw JSONSyntaxError(message: "expected \(what) at byte \(i + 1)")
        }
        i += 1
    }

    /// After a member or an element: skips whitespace, then takes `,` (true: another one follows) or
    /// `closing` (false: the object or array ends).
    mutating func continues(closing: UInt8) throws -> Bool {
        skipWhitespace()
        if peek == UInt8(ascii: ",") {
            i += 1
            return true
        }
        try expect(closing, "',' or '\(String(UnicodeScalar(closing)))'")
        return false
    }

    /// Scans a string at the cursor; the token's content is `start + 1 ..< end - 1`.
    mutating func scanString() throws -> JSONToken {
        let start = i
        try expect(0x22, "'\"'")
        var escapes = false
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                i += 1
                return JSONToken(kind: .string, start: start, end: i, hasEscapes: escapes)
            }
            if c == 0x5C {
                escapes = true
                i += 2
                continue
            }
            if c < 0x20 { throw JSONSyntaxError(message: "control character in a string at byte \(i + 1)") }
            i += 1
        }
        throw JSONSyntaxError(message: "unterminated string starting at byte \(start + 1)")
    }

    /// Scans any value at the cursor (objects and arrays are skipped over as raw text).
    mutating func scanValue() throws -> JSONToken {
        guard let c = peek else { throw JSONSyntaxError(message: "expected a value at end of line") }
        let start = i
        switch c {
        case 0x22:
            return try scanString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipNested()
            return JSONToken(kind: c == UInt8(ascii: "{") ? .object : .array, start: start, end: i)
        case UInt8(ascii: "t"):
            try literal("true")
            return JSONToken(kind: .true, start: start, end: i)
        case UInt8(ascii: "f"):
            try literal("false")
            return JSONToken(kind: .false, start: start, end: i)
        case UInt8(ascii: "n"):
            try literal("null")
            return JSONToken(kind: .null, start: start, end: i)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
            return JSONToken(kind: .number, start: start, end: i)
        default:
            throw JSONSyntaxError(message: "unexpected '\(String(UnicodeScalar(c)))' at byte \(i + 1)")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw JSONSyntaxError(message: "invalid literal at byte \(i + 1)") }
        let w = word.utf8Start
        for k in 0..<n where b[i + k] != w[k] { throw JSONSyntaxError(message: "invalid literal at byte \(i + 1)") }
        i += n
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func scanNumber() throws {
        let start = i
        func digits(_ s: inout JSONScanner) -> Int {
            var k = 0
            while s.i < s.b.count, s.b[s.i] &- 0x30 < 10 { s.i += 1; k += 1 }
            return k
        }
        if b[i] == UInt8(ascii: "-") { i += 1 }
        let integer = digits(&self)
        var ok = integer > 0 && !(integer > 1 && b[i - integer] == UInt8(ascii: "0"))
        if ok, i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            ok = digits(&self) > 0
        }
        if ok, i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            ok = digits(&self) > 0
        }
        guard ok else { throw JSONSyntaxError(message: "invalid number at byte \(start + 1)") }
    }

    private mutating func skipNested() throws {
        let start = i
        var depth = 0
        while i < b.count {
            switch b[i] {
            case 0x22:
                _ = try scanString()
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    i += 1
                    return
                }
            default:
                break
            }
            i += 1
        }
        throw JSONSyntaxError(message: "unterminated object or array starting at byte \(start + 1)")
    }

    /// Appends the content of string token `t` to `out` with escapes resolved (UTF-8).
    func unescape(_ t: JSONToken, into out: inout [UInt8]) throws {
        var k = t.start + 1
        let end = t.end - 1
        while k < end {
            let c = b[k]
            guard c == 0x5C else {
                out.append(c)
                k += 1
                continue
            }
            guard k + 1 < end else { throw JSONSyntaxError(message: "invalid escape at byte \(k + 1)") }
            let e = b[k + 1]
            k += 2
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: k, end: end)
                k += 4
                if (0xD800..<0xDC00).contains(scalar), k + 6 <= end, b[k] == 0x5C, b[k + 1] == UInt8(ascii: "u") {
                    let low = try hex4(at: k + 2, end: end)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        k += 6
                    }
                }
                let unicode = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: String(unicode).utf8)
            default:
                throw JSONSyntaxError(message: "invalid escape '\\\(String(UnicodeScalar(e)))' at byte \(k - 1)")
            }
        }
    }

    private func hex4(at k: Int, end: Int) throws -> UInt32 {
        guard k + 4 <= end else { throw JSONSyntaxError(message: "invalid \\u escape at byte \(k - 1)") }
        var v: UInt32 = 0
        for j in k..<k + 4 {
            guard let d = ScalarParsing.hexNibble(b[j]) else {
                throw JSONSyntaxError(message: "invalid \\u escape at byte \(k - 1)")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }
}
