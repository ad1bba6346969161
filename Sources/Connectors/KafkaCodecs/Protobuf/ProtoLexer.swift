import Flow

/// Splits `.proto` text into tokens with their line and column, dropping whitespace and comments,
/// so the parser can report every error at a place in the text a schema author can find.
struct ProtoToken: Sendable {
    enum Kind: Sendable, Equatable {
        case identifier
        /// Integer or float literal text, sign excluded (`0x1F`, `017`, `1.5e3`).
        case number
        /// A quoted string, escapes resolved; adjacent strings are not joined here.
        case string
        /// One punctuation byte: `= ; { } [ ] ( ) < > , . - +` …
        case symbol
        case end
    }

    let kind: Kind
    let text: String
    let line: Int
    let column: Int

    func isSymbol(_ c: Character) -> Bool { kind == .symbol && text == String(c) }
    func isWord(_ w: String) -> Bool { kind == .identifier && text == w }
}

struct ProtoLexer {
    private let bytes: [UInt8]
    private var at = 0
    private var line = 1
    private var lineStart = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    /// Every token of the text, ending with one `.end` token.
    static func tokenize(_ text: String) throws(ProtoSchemaError) -> [ProtoToken] {
        var lexer = ProtoLexer(text)
        var tokens: [ProtoToken] = []
        while true {
            let t = try lexer.next()
            tokens.append(t)
            if t.kind == .end { return tokens }
        }
    }

    private var column: Int { at - lineStart + 1 }

    private mutating func newline() {
        line += 1
        lineStart = at
    }

    private func error(_ message: String, line: Int, column: Int) -> ProtoSchemaError {
        ProtoSchemaError(message, line: line, column: column)
    }

    private mutating func skipTrivia() throws(ProtoSchemaError) {
        while at < bytes.count {
            let c = bytes[at]
            if c == UInt8(ascii: "\n") {
                at += 1
                newline()
            } else if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == 0x0C
                || c == 0x0B
            {
                at += 1
            } else if c == UInt8(ascii: "/") && at + 1 < bytes.count && bytes[at + 1] == UInt8(ascii: "/") {
                while at < bytes.count && bytes[at] != UInt8(ascii: "\n") { at += 1 }
            } else if c == UInt8(ascii: "/") && at + 1 < bytes.count && bytes[at + 1] == UInt8(ascii: "*") {
                let (l, col) = (line, column)
                at += 2
                var closed = false
                while at < bytes.count {
                    if bytes[at] == UInt8(ascii: "*") && at + 1 < bytes.count && bytes[at + 1] == UInt8(ascii: "/") {
                        at += 2
                        closed = true
                        break
                    }
                    at += 1
                    if bytes[at - 1] == UInt8(ascii: "\n") { newline() }
                }
                if !closed { throw error("unterminated /* comment", line: l, column: col) }
            } else {
                return
            }
        }
    }

    private static func isIdentStart(_ c: UInt8) -> Bool {
        (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") || c == UInt8(ascii: "_")
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    mutating func next() throws(ProtoSchemaError) -> ProtoToken {
        try skipTrivia()
        let (l, col) = (line, column)
        guard at < bytes.count else { return ProtoToken(kind: .end, text: "", line: l, column: col) }
        let start = at
        let c = bytes[at]
        if Self.isIdentStart(c) {
            while at < bytes.count && (Self.isIdentStart(bytes[at]) || Self.isDigit(bytes[at])) { at += 1 }
            return ProtoToken(kind: .identifier, text: text(start, at), line: l, column: col)
        }
        if Self.isDigit(c) || (c == UInt8(ascii: ".") && at + 1 < bytes.count && Self.isDigit(bytes[at + 1])) {
            at += 1
            while at < bytes.count {
                let d = bytes[at]
                if Self.isDigit(d) || Self.isIdentStart(d) || d == UInt8(ascii: ".") {
                    at += 1
                } else if (d == UInt8(ascii: "+") || d == UInt8(ascii: "-")) && (bytes[at - 1] | 0x20) == UInt8(ascii: "e")
                    && !(bytes[start] == UInt8(ascii: "0") && at - start > 1 && (bytes[start + 1] | 0x20) == UInt8(ascii: "x"))
                {
                    at += 1
                } else {
                    break
                }
            }
            return ProtoToken(kind: .number, text: text(start, at), line: l, column: col)
        }
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
            return ProtoToken(kind: .string, text: try string(quote: c, line: l, column: col), line: l, column: col)
        }
        at += 1
        return ProtoToken(kind: .symbol, text: String(UnicodeScalar(c)), line: l, column: col)
    }

    private func text(_ from: Int, _ to: Int) -> String { String(decoding: bytes[from..<to], as: UTF8.self) }

    /// A quoted string with C-style escapes (`\n`, `\xHH`, octal `\ooo`, `\uHHHH`).
    private mutating func string(quote: UInt8, line l: Int, column col: Int) throws(ProtoSchemaError) -> String {
        at += 1
        var out: [UInt8] = []
        while true {
            guard at < bytes.count, bytes[at] != UInt8(ascii: "\n") else {
                throw error("unterminated string", line: l, column: col)
            }
            let c = bytes[at]
            at += 1
            if c == quote { break }
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard at < bytes.count else { throw error("unterminated string", line: l, column: col) }
            let e = bytes[at]
            at += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "x"), UInt8(ascii: "X"):
                var v: UInt32 = 0
                var n = 0
                while n < 2, at < bytes.count, let h = ScalarParsing.hexNibble(bytes[at]) {
                    v = v << 4 | UInt32(h)
                    at += 1
                    n += 1
                }
                guard n > 0 else { throw error("\\x needs hex digits", line: line, column: column) }
                out.append(UInt8(v))
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let digits = e == UInt8(ascii: "u") ? 4 : 8
                var v: UInt32 = 0
                for _ in 0..<digits {
                    guard at < bytes.count, let h = ScalarParsing.hexNibble(bytes[at]) else {
                        throw error("\\u needs \(digits) hex digits", line: line, column: column)
                    }
                    v = v << 4 | UInt32(h)
                    at += 1
                }
                guard let scalar = UnicodeScalar(v) else {
                    throw error("\\u escape is not a Unicode scalar", line: line, column: column)
                }
                out.append(contentsOf: String(Character(scalar)).utf8)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var v = UInt32(e - UInt8(ascii: "0"))
                var n = 1
                while n < 3, at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "7") {
                    v = v * 8 + UInt32(bytes[at] - UInt8(ascii: "0"))
                    at += 1
                    n += 1
                }
                out.append(UInt8(truncatingIfNeeded: v))
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
