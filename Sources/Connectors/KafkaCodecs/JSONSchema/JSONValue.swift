/// A parsed JSON value: for schema documents (compiled once) and `enum` members, never for
/// whole payloads.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// Compared numerically: `1`, `1.0` and `1e0` are equal, as JSON Schema's `enum` requires.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)):
            // Member order does not matter; keys are unique after parsing (last one wins).
            x.count == y.count && x.allSatisfy { m in y.contains { $0.key == m.key && $0.value == m.value } }
        default: false
        }
    }

    subscript(_ key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> JSONValue {
        var cursor = JSONCursor(bytes)
        let v = try parse(&cursor, depth: 0)
        try cursor.end()
        return v
    }

    static func parse(_ text: String) throws(CodecError) -> JSONValue {
        do {
            return try Array(text.utf8).withUnsafeBytes { try parse($0) }
        } catch let e as CodecError {
            throw e
        } catch {
            throw CodecError("\(error)")
        }
    }

    static func parse(_ c: inout JSONCursor, depth: Int) throws(CodecError) -> JSONValue {
        guard depth < JSONLimits.maxDepth else { throw c.fail("nesting deeper than \(JSONLimits.maxDepth)") }
        switch c.peek() {
        case UInt8(ascii: "{"):
            c.at += 1
            var members: [(key: String, value: JSONValue)] = []
            if c.peek() == UInt8(ascii: "}") {
                c.at += 1
                return .object(members)
            }
            repeat {
                guard c.peek() != nil else { throw c.fail("unexpected end") }
                let key = try string(&c)
                try c.expect(UInt8(ascii: ":"), "':'")
                let value = try parse(&c, depth: depth + 1)
                members.removeAll { $0.key == key }
                members.append((key, value))
            } while try c.more(closing: UInt8(ascii: "}"))
            return .object(members)
        case UInt8(ascii: "["):
            c.at += 1
            var items: [JSONValue] = []
            if c.peek() == UInt8(ascii: "]") {
                c.at += 1
                return .array(items)
            }
            repeat { items.append(try parse(&c, depth: depth + 1)) } while try c.more(closing: UInt8(ascii: "]"))
            return .array(items)
        case UInt8(ascii: "\""): return .string(try string(&c))
        case UInt8(ascii: "t"):
            try c.literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try c.literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try c.literal("null")
            return .null
        case nil: throw c.fail("expected a value")
        default:
            let (text, _) = try c.number()
            return .number(c.double(text))
        }
    }

    static func string(_ c: inout JSONCursor) throws(CodecError) -> String {
        let (body, escaped) = try c.string()
        if !escaped { return String(decoding: UnsafeRawBufferPointer(rebasing: c.bytes[body]), as: UTF8.self) }
        var out: [UInt8] = []
        c.unescape(body, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
