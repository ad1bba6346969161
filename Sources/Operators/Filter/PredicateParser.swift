import Flow

extension Predicate {
    /// Parses a filter expression.
    ///
    /// ```
    /// expression := conjunction ("or" conjunction)*
    /// conjunction := primary ("and" primary)*          -- "and" binds tighter than "or"
    /// primary    := "(" expression ")" | column "is" ["not"] "null" | column operator literal
    /// column     := identifier [A-Za-z_][A-Za-z0-9_]* | "double-quoted" ("" escapes a quote)
    /// operator   := = | == | != | <> | < | <= | > | >=
    /// literal    := integer | decimal (1.5) | float (1e3) | 'string' ('' escapes a quote)
    ///             | true | false | null
    /// ```
    /// Keywords are case-insensitive. An integer literal is `.int`, one with a point `.decimal`
    /// (exact), one with an exponent `.float`. Errors are `DponeError(.manifest)` naming the
    /// 1-based character position.
    public static func parse(_ text: String) throws -> Predicate {
        var parser = PredicateParser(text)
        return try parser.parseAll()
    }
}

/// A recursive-descent parser over the tokens of `PredicateLexer`.
struct PredicateParser {
    private let text: String
    private let tokens: [PredicateToken]
    private var next = 0

    init(_ text: String) {
        self.text = text
        self.tokens = PredicateLexer.tokens(of: text)
    }

    mutating func parseAll() throws -> Predicate {
        let predicate = try expression()
        guard case .end = peek.kind else { throw failure("expected 'and', 'or' or the end") }
        return predicate
    }

    private var peek: PredicateToken { tokens[next] }

    private mutating func advance() -> PredicateToken {
        defer { if next < tokens.count - 1 { next += 1 } }
        return tokens[next]
    }

    private func failure(_ expected: String) -> DponeError {
        let token = peek
        let found: String
        switch token.kind {
        case .end: found = "the end"
        case .invalid(let reason): found = reason
        default: found = "'\(token.text)'"
        }
        return DponeError(
            .manifest, "invalid filter at position \(token.position): \(expected), found \(found)",
            hint: "filter syntax: column op literal, column is [not] null, and, or, parentheses",
            context: ["filter": text])
    }

    private mutating func keyword(_ word: String) -> Bool {
        guard case .word(let w) = peek.kind, w.lowercased() == word else { return false }
        _ = advance()
        return true
    }

    private mutating func expression() throws -> Predicate {
        var terms = [try conjunction()]
        while keyword("or") { terms.append(try conjunction()) }
        return terms.count == 1 ? terms[0] : .or(terms)
    }

    private mutating func conjunction() throws -> Predicate {
        var terms = [try primary()]
        while keyword("and") { terms.append(try primary()) }
        return terms.count == 1 ? terms[0] : .and(terms)
    }

    private mutating func primary() throws -> Predicate {
        if case .symbol("(") = peek.kind {
            _ = advance()
            let inner = try expression()
            guard case .symbol(")") = peek.kind else { throw failure("expected ')'") }
            _ = advance()
            return inner
        }
        let column: String
        switch peek.kind {
        case .word(let w) where !PredicateLexer.keywords.contains(w.lowercased()): column = w
        case .quotedIdentifier(let name): column = name
        default: throw failure("expected a column name or '('")
        }
        _ = advance()
        if keyword("is") {
            let negated = keyword("not")
            guard keyword("null") else { throw failure("expected 'null'") }
            return negated ? .isNotNull(column) : .isNull(column)
        }
        let op: ComparisonOperator
        switch peek.kind {
        case .symbol("="), .symbol("=="): op = .equal
        case .symbol("!="), .symbol("<>"): op = .notEqual
        case .symbol("<"): op = .less
        case .symbol("<="): op = .lessOrEqual
        case .symbol(">"): op = .greater
        case .symbol(">="): op = .greaterOrEqual
        default: throw failure("expected a comparison operator (=, !=, <, <=, >, >=) or 'is'")
        }
        _ = advance()
        return .comparison(column: column, op: op, literal: try literal())
    }

    private mutating func literal() throws -> Value {
        let value: Value
        switch peek.kind {
        case .string(let s): value = .string(s)
        case .number(let n):
            guard let v = PredicateParser.number(n) else { throw failure("expected a valid number") }
            value = v
        case .word(let w) where w.lowercased() == "true": value = .bool(true)
        case .word(let w) where w.lowercased() == "false": value = .bool(false)
        case .word(let w) where w.lowercased() == "null": value = .null
        default: throw failure("expected a literal (number, 'string', true, false, null)")
        }
        _ = advance()
        return value
    }

    private static func number(_ text: String) -> Value? {
        var text = text
        return text.withUTF8 { s in
            if !s.contains(UInt8(ascii: ".")) && !s.contains(UInt8(ascii: "e")) && !s.contains(UInt8(ascii: "E")) {
                if let v = ScalarParsing.int64(UnsafeRawBufferPointer(s)) { return .int(v) }
                return ScalarParsing.decimal(UnsafeRawBufferPointer(s), scale: 0).map { .decimal($0, scale: 0) }
            }
            if s.contains(UInt8(ascii: "e")) || s.contains(UInt8(ascii: "E")) {
                return ScalarParsing.double(UnsafeRawBufferPointer(s)).map { .float($0) }
            }
            let point = s.firstIndex(of: UInt8(ascii: "."))!
            let scale = s.count - point - 1
            return ScalarParsing.decimal(UnsafeRawBufferPointer(s), scale: scale).map { .decimal($0, scale: scale) }
        }
    }
}
