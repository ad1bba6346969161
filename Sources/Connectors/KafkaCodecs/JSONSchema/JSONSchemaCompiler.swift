/// Turns a parsed schema document into the validator's flat node table; `$ref`s are recorded by
/// pointer and resolved after the whole document is compiled, so recursive definitions work.
struct JSONSchemaCompiler {
    let root: JSONValue
    var nodes: [JSONSchemaValidator.Node] = []
    private var pendingRefs: [(node: Int, pointer: String)] = []
    private var byPointer: [String: Int] = [:]

    init(root: JSONValue) { self.root = root }

    private func fail(_ message: String, _ pointer: String) -> CodecError {
        CodecError("schema: \(message) at \(pointer)")
    }

    /// Compiles `schema` (found at JSON pointer `pointer`) and returns its node index.
    mutating func compile(_ schema: JSONValue, pointer: String) throws(CodecError) -> Int {
        let index = nodes.count
        nodes.append(JSONSchemaValidator.Node())
        byPointer[pointer] = index
        var node = JSONSchemaValidator.Node()
        switch schema {
        case .bool(let b):
            node.allowsNothing = !b
            nodes[index] = node
            return index
        case .object: break
        default: throw fail("a schema is an object or a boolean", pointer)
        }
        if case .string(let ref)? = schema["$ref"] {
            pendingRefs.append((index, ref))
        } else if schema["$ref"] != nil {
            throw fail("$ref is a string", pointer)
        }
        // Definitions are compiled even when nothing refers to them yet, so a pointer resolves.
        if let definitions = schema["definitions"] {
            guard case .object(let members) = definitions else { throw fail("definitions is an object", pointer) }
            for (name, sub) in members {
                _ = try compile(sub, pointer: pointer + "/definitions/" + Self.escape(name))
            }
        }
        if let type = schema["type"] {
            var types = JSONSchemaValidator.Types()
            let names: [JSONValue]
            if case .array(let list) = type { names = list } else { names = [type] }
            for n in names {
                guard case .string(let name) = n, let t = JSONSchemaValidator.Types.names.first(where: { $0.0 == name })?.1
                else { throw fail("unknown type \(n)", pointer) }
                types.insert(t)
            }
            node.types = types
        }
        if let properties = schema["properties"] {
            guard case .object(let members) = properties else { throw fail("properties is an object", pointer) }
            for (name, sub) in members {
                let child = try compile(sub, pointer: pointer + "/properties/" + Self.escape(name))
                node.properties.append((Array(name.utf8), child))
            }
        }
        if let required = schema["required"] {
            guard case .array(let names) = required else { throw fail("required is an array of strings", pointer) }
            for n in names {
                guard case .string(let name) = n else { throw fail("required is an array of strings", pointer) }
                node.required.append(Array(name.utf8))
            }
        }
        switch schema["additionalProperties"] {
        case nil, .bool(true)?: break
        case .bool(false)?: node.additional = -1
        case let sub?: node.additional = try compile(sub, pointer: pointer + "/additionalProperties")
        }
        if let items = schema["items"] {
            if case .array = items { throw fail("items as an array (tuple validation) is not supported", pointer) }
            node.items = try compile(items, pointer: pointer + "/items")
        }
        if let values = schema["enum"] {
            guard case .array(let list) = values else { throw fail("enum is an array", pointer) }
            node.enumValues = list
        }
        if case .string("date-time")? = schema["format"] { node.dateTime = true }
        nodes[index] = node
        return index
    }

    /// JSON pointer escaping of one reference token.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.append(c)
            }
        }
        return out
    }

    mutating func resolveRefs() throws(CodecError) {
        for (node, pointer) in pendingRefs {
            let decoded = pointer.removingPercentEncodingIfAny
            guard let target = byPointer[decoded] else {
                throw CodecError("schema: $ref \(pointer) does not point to a schema in this document (only #, #/definitions/… and other local pointers to compiled schemas)")
            }
            nodes[node].ref = target
        }
    }
}

extension String {
    /// `%25`-style escapes in a `$ref` URI fragment, decoded; the text as is when it has none.
    fileprivate var removingPercentEncodingIfAny: String {
        guard contains("%") else { return self }
        var out: [UInt8] = []
        let u = Array(utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "%"), i + 2 < u.count, let h = JSONCursor.hex(u[i + 1]), let l = JSONCursor.hex(u[i + 2]) {
                out.append(UInt8(h << 4 | l))
                i += 3
            } else {
                out.append(u[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
