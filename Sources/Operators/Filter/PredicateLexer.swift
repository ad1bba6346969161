/// A token of the filter grammar with its 1-based character position.
struct PredicateToken {
    enum Kind: Equatable {
        case word(String)
        case quotedIdentifier(String)
        case string(String)
        case number(String)
        case symbol(String)
        case invalid(String)
        case end
    }

    let kind: Kind
    let text: String
    let position: Int
}

/// Splits a filter expression into tokens; the last token is always `.end` (or `.invalid`, which
/// the parser reports at its position).
enum PredicateLexer {
    static let keywords: Set<String> = ["and", "or", "is", "not", "null", "true", "false"]

    static func tokens(of text: String) -> [PredicateToken] {
        let chars = Array(text)
        var tokens: [PredicateToken] = []
        var i = 0
        func token(_ kind: PredicateToken.Kind, from start: Int) {
            tokens.append(PredicateToken(kind: kind, text: String(chars[start..<i]), position: start + 1))
        }
        func isWordStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
        func isWord(_ c: Character) -> Bool { isWordStart(c) || (c.isASCII && c.isNumber) }
        func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }

        while i < chars.count {
            let c = chars[i]
            let start = i
            if c.isWhitespace {
                i += 1
            } else if isWordStart(c) {
                while i < chars.count && isWord(chars[i]) { i += 1 }
                token(.word(String(chars[start..<i])), from: start)
            } else if isDigit(c) || ((c == "-" || c == "+" || c == ".") && i + 1 < chars.count && isDigit(chars[i + 1])) {
                i += 1
                while i < chars.count && (isDigit(chars[i]) || chars[i] == ".") { i += 1 }
                if i < chars.count && (chars[i] == "e" || chars[i] == "E") {
                    i += 1
                    if i < chars.count && (chars[i] == "-" || chars[i] == "+") { i += 1 }
                    while i < chars.count && isDigit(chars[i]) { i += 1 }
                }
                if i < chars.count && isWord(chars[i]) {
                    while i < chars.count && isWord(chars[i]) { i += 1 }
                    token(.invalid("malformed number '\(String(chars[start..<i]))'"), from: start)
                    return tokens
                }
                token(.number(String(chars[start..<i])), from: start)
            } else if c == "'" || c == "\"" {
                var value = ""
                i += 1
                var closed = false
                while i < chars.count {
                    if chars[i] == c {
                        if i + 1 < chars.count && chars[i + 1] == c {
                            value.append(c)
                            i += 2
                            continue
                        }
                        i += 1
                        closed = true
                        break
                    }
                    value.append(chars[i])
                    i += 1
                }
                guard closed else {
                    token(.invalid(c == "'" ? "an unterminated string" : "an unterminated quoted name"), from: start)
                    return tokens
                }
                token(c == "'" ? .string(value) : .quotedIdentifier(value), from: start)
            } else if "()".contains(c) {
                i += 1
                token(.symbol(String(c)), from: start)
            } else if "=!<>".contains(c) {
                i += 1
                if i < chars.count, ["==", "!=", "<>", "<=", ">="].contains(String([c, chars[i]])) { i += 1 }
                let op = String(chars[start..<i])
                if op == "!" {
                    token(.invalid("'!'"), from: start)
                    return tokens
                }
                token(.symbol(op), from: start)
            } else {
                i += 1
                token(.invalid("unexpected character '\(c)'"), from: start)
                return tokens
            }
        }
        tokens.append(PredicateToken(kind: .end, text: "", position: chars.count + 1))
        return tokens
    }
}
