import Flow

extension ManifestDecoder {
    static let fieldKeys = ["name", "type", "nullable"]

    /// `schema: [{name, type, nullable}]`; names unique, nullable defaults to true.
    func schema(_ ref: NodeRef) -> Schema? {
        guard let items = ctx.list(ref) else { return nil }
        var fields: [Field] = []
        var seen: Set<String> = []
        var ok = true
        for item in items {
            guard let map = ctx.mapping(item) else {
                ok = false
                continue
            }
            map.rejectUnknownKeys(Self.fieldKeys, ctx)
            let nameRef = map.required("name", ctx)
            let name = nameRef.flatMap { ctx.string($0) }
            let type = map.required("type", ctx).flatMap(logicalType)
            let nullable = map["nullable"].map { ctx.bool($0) } ?? true
            guard let name, let nameRef, let type, let nullable else {
                ok = false
                continue
            }
            guard seen.insert(name).inserted else {
                ctx.fail(nameRef, "duplicate column '\(name)' in schema")
                ok = false
                continue
            }
            fields.append(Field(name, type, nullable: nullable))
        }
        return ok ? Schema(fields) : nil
    }

    /// A logical type name (`int64`, `decimal(12,2)`, `timestamptz`...), suggesting the nearest spelling.
    func logicalType(_ ref: NodeRef) -> LogicalType? {
        guard let text = ctx.string(ref) else { return nil }
        if let type = LogicalType(parsing: text) { return type }
        let spelling = text.lowercased().filter { !$0.isWhitespace }
        if let open = spelling.firstIndex(of: "("), ["decimal", "numeric"].contains(String(spelling[..<open])) {
            ctx.fail(
                ref, "invalid logical type '\(text)'",
                hint: "decimal(p,s) needs 1 <= p <= \(LogicalType.maxDecimalPrecision) and 0 <= s <= p")
            return nil
        }
        var hint = Suggestion.hint(for: text, in: LogicalType.spellings)
        if hint == nil, let open = spelling.firstIndex(of: "(") {
            let head = String(spelling[..<open])
            let bases = LogicalType.spellings.filter { $0.contains("(") }.map { String($0.prefix { $0 != "(" }) }
            if let base = Suggestion.nearest(to: head, in: bases) {
                hint = "did you mean '\(base)\(spelling[open...])'?"
            }
        }
        ctx.fail(
            ref, "unknown logical type '\(text)'",
            hint: hint ?? "valid types: \(LogicalType.spellings.joined(separator: ", "))")
        return nil
    }
}
