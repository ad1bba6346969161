/// Reads Avro schema JSON into `AvroType`, applying the spec's naming rules: a dotted name is a full
/// name, otherwise the `namespace` attribute or the enclosing namespace qualifies it; a named type
/// is defined once and referred to by name afterwards.
struct AvroSchemaParser {
    private(set) var named: [String: AvroType] = [:]
    private var depth = 0

    static let primitives: [String: AvroType] = [
        "null": .null, "boolean": .boolean, "int": .int, "long": .long, "float": .float, "double": .double,
        "bytes": .bytes, "string": .string,
    ]

    mutating func parse(_ json: AvroJSON, namespace: String) throws -> AvroType {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 128 else { throw CodecError("schema nests deeper than 128 types") }
        switch json {
        case .string(let name): return try lookup(name, namespace: namespace)
        case .array(let branches): return try union(branches, namespace: namespace)
        case .object: return try object(json, namespace: namespace)
        default: throw CodecError("a schema is a type name, an object or an array, not \(json.text)")
        }
    }

    private func lookup(_ name: String, namespace: String) throws -> AvroType {
        if let p = Self.primitives[name] { return p }
        let full = Self.fullName(name, namespace: namespace)
        if named[full] != nil { return .reference(full) }
        if named[name] != nil { return .reference(name) }
        throw CodecError("unknown type name '\(name)'")
    }

    private mutating func union(_ branches: [AvroJSON], namespace: String) throws -> AvroType {
        var types: [AvroType] = []
        for b in branches {
            let t = try parse(b, namespace: namespace)
            if case .union = t { throw CodecError("a union may not directly contain a union") }
            types.append(t)
        }
        try Self.checkUnion(types)
        return .union(types)
    }

    /// Branches must differ: by name for named types, by kind for the others.
    static func checkUnion(_ types: [AvroType]) throws {
        var seen: Set<String> = []
        for t in types {
            let key: String
            switch t.base {
            case .record, .enumeration, .fixed, .reference: key = t.fullName ?? ""
            case .array: key = "array"
            case .map: key = "map"
            default: key = t.base.kindName
            }
            guard seen.insert(key).inserted else { throw CodecError("union has two branches of type \(key)") }
        }
    }

    private mutating func object(_ json: AvroJSON, namespace: String) throws -> AvroType {
        guard let typeJSON = json["type"] else { throw CodecError("schema object without \"type\": \(json.text)") }
        guard case .string(let type) = typeJSON else {
            // {"type": {...}} or {"type": [...]}: the attribute is itself a schema.
            return try parse(typeJSON, namespace: namespace)
        }
        let base: AvroType
        switch type {
        case "record", "error": base = try record(json, namespace: namespace)
        case "enum": base = try enumeration(json, namespace: namespace)
        case "fixed": base = try fixed(json, namespace: namespace)
        case "array":
            guard let items = json["items"] else { throw CodecError("array without \"items\"") }
            base = .array(items: try parse(items, namespace: namespace))
        case "map":
            guard let values = json["values"] else { throw CodecError("map without \"values\"") }
            base = .map(values: try parse(values, namespace: namespace))
        default:
            base = try lookup(type, namespace: namespace)
        }
        guard let logical = Self.logical(json, base: base) else { return base }
        let wrapped = AvroType.logical(logical, base)
        // A named decimal or uuid fixed keeps its logical type when referred to by name.
        if case .fixed(let f) = base { named[f.name] = wrapped }
        return wrapped
    }

    /// The logical type `json` declares over `base`, or nil when absent, unknown or invalid there.
    static func logical(_ json: AvroJSON, base: AvroType) -> AvroLogicalType? {
        guard let name = json["logicalType"]?.stringValue else { return nil }
        switch (name, base) {
        case ("date", .int): return .date
        case ("time-millis", .int): return .timeMillis
        case ("time-micros", .long): return .timeMicros
        case ("timestamp-millis", .long): return .timestampMillis
        case ("timestamp-micros", .long): return .timestampMicros
        case ("local-timestamp-millis", .long): return .localTimestampMillis
        case ("local-timestamp-micros", .long): return .localTimestampMicros
        case ("uuid", .string): return .uuid
        case ("uuid", .fixed(let f)) where f.size == 16: return .uuid
        case ("decimal", .bytes), ("decimal", .fixed):
            guard case .number(let pText) = json["precision"], let p = Int(pText), p > 0 else { return nil }
            var s = 0
            if let scale = json["scale"] {
                guard case .number(let sText) = scale, let v = Int(sText) else { return nil }
                s = v
            }
            guard s >= 0, s <= p else { return nil }
            if case .fixed(let f) = base, p > maxDecimalDigits(fixedSize: f.size) { return nil }
            return .decimal(precision: p, scale: s)
        default: return nil
        }
    }

    /// The most decimal digits a two's-complement value of `size` bytes always holds:
    /// floor(log10(2^(8·size−1) − 1)).
    static func maxDecimalDigits(fixedSize size: Int) -> Int {
        guard size > 0 else { return 0 }
        // log10(2) · (8·size − 1), rounded down; exact enough for every size a schema can hold.
        return Int((Double(8 * size - 1) * 0.30102999566398120).rounded(.down))
    }

    private mutating func define(_ json: AvroJSON, namespace: String) throws -> (full: String, ns: String, aliases: [String]) {
        guard let name = json["name"]?.stringValue else { throw CodecError("named type without a \"name\"") }
        var ns = namespace
        if let n = json["namespace"] {
            switch n {
            case .string(let s): ns = s
            case .null: ns = ""
            default: throw CodecError("\"namespace\" of \(name) is not a string")
            }
        }
        let full = Self.fullName(name, namespace: ns)
        try Self.checkName(full)
        guard Self.primitives[full] == nil else { throw CodecError("'\(full)' redefines a primitive type") }
        guard named[full] == nil else { throw CodecError("type '\(full)' is defined twice") }
        let ownNamespace = full.lastIndex(of: ".").map { String(full[..<$0]) } ?? ""
        var aliases: [String] = []
        if let a = json["aliases"] {
            guard case .array(let items) = a else { throw CodecError("\"aliases\" of \(full) is not an array") }
            for item in items {
                guard let s = item.stringValue else { throw CodecError("an alias of \(full) is not a string") }
                let alias = Self.fullName(s, namespace: ownNamespace)
                try Self.checkName(alias)
                aliases.append(alias)
            }
        }
        return (full, ownNamespace, aliases)
    }

    private mutating func record(_ json: AvroJSON, namespace: String) throws -> AvroType {
        let (full, ns, aliases) = try define(json, namespace: namespace)
        // Registered before the fields so a field may refer to the record itself.
        named[full] = .record(AvroRecord(name: full, aliases: aliases, fields: []))
        guard case .array(let fieldsJSON) = json["fields"] else { throw CodecError("record \(full) without \"fields\"") }
        var fields: [AvroField] = []
        for f in fieldsJSON {
            guard let name = f["name"]?.stringValue else { throw CodecError("a field of \(full) has no \"name\"") }
            try Self.checkName(name, dotted: false)
            guard !fields.contains(where: { $0.name == name }) else { throw CodecError("field '\(name)' appears twice", path: name) }
            guard let typeJSON = f["type"] else { throw CodecError("field without \"type\"", path: name) }
            let type: AvroType
            do { type = try parse(typeJSON, namespace: ns) } catch let e as CodecError { throw e.within(name) }
            var aliases: [String] = []
            if case .array(let items) = f["aliases"] { aliases = items.compactMap(\.stringValue) }
            fields.append(AvroField(name: name, type: type, defaultValue: f["default"], aliases: aliases))
        }
        let record = AvroType.record(AvroRecord(name: full, aliases: aliases, fields: fields))
        named[full] = record
        return record
    }

    private mutating func enumeration(_ json: AvroJSON, namespace: String) throws -> AvroType {
        let (full, _, aliases) = try define(json, namespace: namespace)
        guard case .array(let items) = json["symbols"] else { throw CodecError("enum \(full) without \"symbols\"") }
        var symbols: [String] = []
        for item in items {
            guard let s = item.stringValue else { throw CodecError("a symbol of \(full) is not a string") }
            try Self.checkName(s, dotted: false)
            guard !symbols.contains(s) else { throw CodecError("symbol '\(s)' appears twice in \(full)") }
            symbols.append(s)
        }
        var defaultSymbol: String?
        if let d = json["default"] {
            guard let s = d.stringValue, symbols.contains(s) else {
                throw CodecError("default of enum \(full) is not one of its symbols")
            }
            defaultSymbol = s
        }
        let e = AvroType.enumeration(AvroEnum(name: full, aliases: aliases, symbols: symbols, defaultSymbol: defaultSymbol))
        named[full] = e
        return e
    }

    private mutating func fixed(_ json: AvroJSON, namespace: String) throws -> AvroType {
        let (full, _, aliases) = try define(json, namespace: namespace)
        guard case .number(let text) = json["size"], let size = Int(text), size >= 0 else {
            throw CodecError("fixed \(full) needs a non-negative integer \"size\"")
        }
        let f = AvroType.fixed(AvroFixed(name: full, aliases: aliases, size: size))
        named[full] = f
        return f
    }

    static func fullName(_ name: String, namespace: String) -> String {
        name.contains(".") || namespace.isEmpty ? name : namespace + "." + name
    }

    /// Names are `[A-Za-z_][A-Za-z0-9_]*`, dot-separated in full names.
    static func checkName(_ name: String, dotted: Bool = true) throws {
        let parts = dotted ? name.split(separator: ".", omittingEmptySubsequences: false) : [Substring(name)]
        for part in parts {
            guard let first = part.utf8.first, isNameStart(first), part.utf8.allSatisfy(isNameChar) else {
                throw CodecError("'\(name)' is not a valid Avro name")
            }
        }
    }

    static func isNameStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }

    static func isNameChar(_ c: UInt8) -> Bool { isNameStart(c) || (c >= 0x30 && c <= 0x39) }

    /// Registers the named types of a schema built in code and checks its references.
    mutating func collect(_ type: AvroType) throws {
        switch type {
        case .record(let r):
            try Self.checkName(r.name)
            guard named[r.name] == nil else { throw CodecError("type '\(r.name)' is defined twice") }
            named[r.name] = type
            for f in r.fields {
                try Self.checkName(f.name, dotted: false)
                do { try collect(f.type) } catch let e as CodecError { throw e.within(f.name) }
            }
        case .enumeration(let e):
            try Self.checkName(e.name)
            guard named[e.name] == nil else { throw CodecError("type '\(e.name)' is defined twice") }
            named[e.name] = type
        case .fixed(let f):
            try Self.checkName(f.name)
            guard named[f.name] == nil else { throw CodecError("type '\(f.name)' is defined twice") }
            named[f.name] = type
        case .logical(_, .fixed(let f)):
            try collect(.fixed(f))
            named[f.name] = type
        case .logical(_, let base): try collect(base)
        case .array(let items): try collect(items)
        case .map(let values): try collect(values)
        case .union(let branches):
            for b in branches { try collect(b) }
            try Self.checkUnion(branches)
        case .reference(let name):
            guard named[name] != nil else { throw CodecError("unknown type name '\(name)'") }
        case .null, .boolean, .int, .long, .float, .double, .bytes, .string: break
        }
    }
}
