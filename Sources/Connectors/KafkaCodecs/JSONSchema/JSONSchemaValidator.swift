import Flow

/// A draft-07 JSON Schema subset compiled once and checked against payloads by walking their
/// bytes: `type` (a name or a list; `integer` is a number without a fractional part), `properties`,
/// `required`, `enum`, `items` (one schema), `additionalProperties` (bool or schema),
/// `format: date-time` (RFC 3339) and `$ref` to `#`, `#/definitions/…` (siblings of `$ref` are
/// ignored, as draft-07 says). Other keywords are ignored.
public struct JSONSchemaValidator: Sendable {
    struct Types: OptionSet, Sendable {
        let rawValue: UInt8
        static let null = Types(rawValue: 1)
        static let boolean = Types(rawValue: 2)
        static let object = Types(rawValue: 4)
        static let array = Types(rawValue: 8)
        static let number = Types(rawValue: 16)
        static let integer = Types(rawValue: 32)
        static let string = Types(rawValue: 64)
        static let names: [(String, Types)] = [
            ("boolean", .boolean), ("object", .object), ("array", .array), ("number", .number),
            ("integer", .integer), ("string", .string), ("null", .null),
        ]
    }

    struct Node: Sendable {
        var allowsNothing = false
        var types: Types?
        var properties: [(name: [UInt8], node: Int)] = []
        var required: [[UInt8]] = []
        /// nil: any extra property; -1: none allowed; else the schema extra properties follow.
        var additional: Int?
        var items: Int?
        var enumValues: [JSONValue]?
        var dateTime = false
        var ref: Int?
    }

    private let nodes: [Node]

    /// Compiles `schemaText`; an unparseable schema or a `$ref` that points nowhere throws.
    public init(schemaText: String) throws(CodecError) {
        let root: JSONValue
        do { root = try JSONValue.parse(schemaText) } catch { throw CodecError("schema: \(error.message)") }
        var compiler = JSONSchemaCompiler(root: root)
        _ = try compiler.compile(root, pointer: "#")
        try compiler.resolveRefs()
        nodes = compiler.nodes
    }

    /// Checks one payload; throws the first violation (or the JSON syntax error) as a `CodecError`
    /// whose path names the place: `items[2].price: expected number`.
    public func validate(_ payload: UnsafeRawBufferPointer) throws(CodecError) {
        var cursor = JSONCursor(payload)
        try validate(node: 0, &cursor, depth: 0)
        try cursor.end()
    }

    public func validate(_ payload: [UInt8]) throws(CodecError) {
        do {
            try payload.withUnsafeBytes { try validate($0) }
        } catch let e as CodecError {
            throw e
        } catch {
            throw CodecError("\(error)")
        }
    }

    private func describe(_ t: Types) -> String {
        let names = Types.names.filter { t.contains($0.1) }.map(\.0)
        return names.count <= 1 ? (names.first ?? "nothing") : names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
    }

    private func validate(node start: Int, _ c: inout JSONCursor, depth: Int) throws(CodecError) {
        guard depth < JSONLimits.maxDepth else { throw c.fail("nesting deeper than \(JSONLimits.maxDepth)") }
        var index = start
        var hops = 0
        while let target = nodes[index].ref {
            index = target
            hops += 1
            guard hops < 64 else { throw CodecError("schema: $ref cycle") }
        }
        let node = nodes[index]
        if node.allowsNothing {
            guard c.peek() != nil else { throw c.fail("expected a value") }
            throw CodecError("no value is allowed here")
        }
        let valueStart: Int
        do {
            _ = c.peek()
            valueStart = c.at
        }
        guard let first = c.peek() else { throw c.fail("expected a value") }
        func check(_ kind: Types) throws(CodecError) {
            if let types = node.types, !types.contains(kind) { throw CodecError("expected \(describe(types))") }
        }
        switch first {
        case UInt8(ascii: "{"):
            try check(.object)
            try object(node, &c, depth: depth)
        case UInt8(ascii: "["):
            try check(.array)
            c.at += 1
            if c.peek() == UInt8(ascii: "]") {
                c.at += 1
            } else {
                var i = 0
                repeat {
                    do {
                        if let items = node.items { try validate(node: items, &c, depth: depth + 1) } else { try c.skipValue(depth: depth + 1) }
                    } catch {
                        throw error.within("[\(i)]")
                    }
                    i += 1
                } while try c.more(closing: UInt8(ascii: "]"))
            }
        case UInt8(ascii: "\""):
            let (body, escaped) = try c.string()
            try check(.string)
            if node.dateTime {
                var ok = false
                if escaped {
                    var text: [UInt8] = []
                    c.unescape(body, into: &text)
                    ok = text.withUnsafeBytes { RFC3339.isDateTime($0) }
                } else {
                    ok = RFC3339.isDateTime(UnsafeRawBufferPointer(rebasing: c.bytes[body]))
                }
                if !ok { throw CodecError("expected an RFC 3339 date-time") }
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            // Scalars are read before their type is checked, so broken JSON reports as such.
            try c.literal(first == UInt8(ascii: "t") ? "true" : "false")
            try check(.boolean)
        case UInt8(ascii: "n"):
            try c.literal("null")
            try check(.null)
        default:
            let (text, plain) = try c.number()
            if let types = node.types, !types.contains(.number) {
                guard types.contains(.integer) else { throw CodecError("expected \(describe(types))") }
                if !plain {
                    let d = c.double(text)
                    guard d.isFinite, d.rounded(.towardZero) == d else { throw CodecError("expected \(describe(types))") }
                }
            }
        }
        if let values = node.enumValues {
            var again = JSONCursor(c.bytes)
            again.at = valueStart
            let value = try JSONValue.parse(&again, depth: depth)
            guard values.contains(value) else { throw CodecError("not one of the enum values") }
        }
    }

    private func object(_ node: Node, _ c: inout JSONCursor, depth: Int) throws(CodecError) {
        c.at += 1
        var seenMask: UInt64 = 0
        var seenMore: [Bool] = node.required.count > 64 ? Array(repeating: false, count: node.required.count) : []
        var scratch: [UInt8] = []
        if c.peek() == UInt8(ascii: "}") {
            c.at += 1
        } else {
            repeat {
                guard c.peek() != nil else { throw c.fail("unexpected end") }
                let (body, escaped) = try c.string()
                try c.expect(UInt8(ascii: ":"), "':'")
                if escaped {
                    // The rare escaped key is decoded into a reused scratch buffer.
                    scratch.removeAll(keepingCapacity: true)
                    c.unescape(body, into: &scratch)
                    try member(node, scratch, &c, depth: depth, mask: &seenMask, more: &seenMore)
                } else {
                    try member(node, UnsafeRawBufferPointer(rebasing: c.bytes[body]), &c, depth: depth,
                               mask: &seenMask, more: &seenMore)
                }
            } while try c.more(closing: UInt8(ascii: "}"))
        }
        for (i, name) in node.required.enumerated() {
            let seen = i < 64 ? seenMask & (1 << UInt64(i)) != 0 : seenMore[i]
            if !seen { throw CodecError("required property is missing", path: Self.pathName(name)) }
        }
    }

    private func member(_ node: Node, _ key: some Collection<UInt8>, _ c: inout JSONCursor, depth: Int,
                        mask: inout UInt64, more: inout [Bool]) throws(CodecError) {
        for (i, name) in node.required.enumerated() where name.elementsEqual(key) {
            if i < 64 { mask |= 1 << UInt64(i) } else { more[i] = true }
        }
        var target: Int? = nil
        for p in node.properties where p.name.elementsEqual(key) { target = p.node }
        if target == nil, let extra = node.additional {
            guard extra >= 0 else {
                throw CodecError("property is not allowed (additionalProperties is false)", path: Self.pathName(Array(key)))
            }
            target = extra
        }
        do {
            if let target { try validate(node: target, &c, depth: depth + 1) } else { try c.skipValue(depth: depth + 1) }
        } catch {
            throw error.within(Self.pathName(Array(key)))
        }
    }

    /// A property name as a path segment: as is when it is a plain identifier, quoted otherwise.
    static func pathName(_ name: [UInt8]) -> String {
        let text = String(decoding: name, as: UTF8.self)
        let plain = !name.isEmpty && name.allSatisfy { b in
            (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") || b == UInt8(ascii: "_")
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
        }
        return plain ? text : "[\"" + text + "\"]"
    }
}
