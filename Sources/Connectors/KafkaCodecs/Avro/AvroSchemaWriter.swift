/// Deterministic schema JSON for registering schemas: the same schema always yields the same bytes.
///
/// Rules: no whitespace; named types carry their full name in `name` (plus `"namespace":""` only
/// when a null-namespace type sits inside a namespaced one, where a bare name would be re-qualified);
/// attribute order is type, name, namespace, aliases, fields/symbols/items/values/size, default,
/// logicalType, precision, scale; field attributes are name, aliases, type, default; `doc` and
/// unknown attributes are dropped. Defaults are written compactly with numbers as in the source.
extension AvroSchema {
    public var canonicalJSON: String {
        var out: [UInt8] = []
        AvroSchemaWriter.write(root, namespace: "", to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

enum AvroSchemaWriter {
    static func write(_ type: AvroType, namespace: String, to out: inout [UInt8]) {
        switch type {
        case .null, .boolean, .int, .long, .float, .double, .bytes, .string:
            JSONText.appendString(type.kindName, to: &out)
        case .reference(let name):
            JSONText.appendString(name, to: &out)
        case .union(let branches):
            out.append(UInt8(ascii: "["))
            for (i, b) in branches.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(b, namespace: namespace, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .logical(let logical, let base):
            out.append(UInt8(ascii: "{"))
            body(base, namespace: namespace, to: &out)
            key("logicalType", &out)
            JSONText.appendString(logical.name, to: &out)
            if case .decimal(let p, let s) = logical {
                key("precision", &out)
                out.append(contentsOf: String(p).utf8)
                key("scale", &out)
                out.append(contentsOf: String(s).utf8)
            }
            out.append(UInt8(ascii: "}"))
        default:
            out.append(UInt8(ascii: "{"))
            body(type, namespace: namespace, to: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func key(_ name: String, _ out: inout [UInt8], first: Bool = false) {
        if !first { out.append(UInt8(ascii: ",")) }
        JSONText.appendString(name, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    private static func strings(_ items: [String], _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, s) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(s, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// Name, namespace and aliases of a named type; returns the namespace its children inherit.
    private static func header(_ kind: String, _ name: String, _ aliases: [String], namespace: String, _ out: inout [UInt8]) -> String {
        key("type", &out, first: true)
        JSONText.appendString(kind, to: &out)
        key("name", &out)
        JSONText.appendString(name, to: &out)
        let own = name.lastIndex(of: ".").map { String(name[..<$0]) } ?? ""
        if own.isEmpty && !namespace.isEmpty {
            key("namespace", &out)
            out.append(contentsOf: "\"\"".utf8)
        }
        if !aliases.isEmpty {
            key("aliases", &out)
            strings(aliases, &out)
        }
        return own
    }

    /// The attributes of a non-primitive type, without the braces (a logical type adds its own after).
    private static func body(_ type: AvroType, namespace: String, to out: inout [UInt8]) {
        switch type {
        case .record(let r):
            let ns = header("record", r.name, r.aliases, namespace: namespace, &out)
            key("fields", &out)
            out.append(UInt8(ascii: "["))
            for (i, f) in r.fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "{"))
                key("name", &out, first: true)
                JSONText.appendString(f.name, to: &out)
                if !f.aliases.isEmpty {
                    key("aliases", &out)
                    strings(f.aliases, &out)
                }
                key("type", &out)
                write(f.type, namespace: ns, to: &out)
                if let d = f.defaultValue {
                    key("default", &out)
                    d.write(to: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        case .enumeration(let e):
            _ = header("enum", e.name, e.aliases, namespace: namespace, &out)
            key("symbols", &out)
            strings(e.symbols, &out)
            if let d = e.defaultSymbol {
                key("default", &out)
                JSONText.appendString(d, to: &out)
            }
        case .fixed(let f):
            _ = header("fixed", f.name, f.aliases, namespace: namespace, &out)
            key("size", &out)
            out.append(contentsOf: String(f.size).utf8)
        case .array(let items):
            key("type", &out, first: true)
            JSONText.appendString("array", to: &out)
            key("items", &out)
            write(items, namespace: namespace, to: &out)
        case .map(let values):
            key("type", &out, first: true)
            JSONText.appendString("map", to: &out)
            key("values", &out)
            write(values, namespace: namespace, to: &out)
        default:
            // Primitives, references and unions under a logical type: {"type": <the type>}.
            key("type", &out, first: true)
            write(type, namespace: namespace, to: &out)
        }
    }
}
