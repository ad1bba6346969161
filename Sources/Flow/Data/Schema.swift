/// One named, typed column of a schema.
public struct Field: Sendable, Hashable, Codable {
    public var name: String
    public var type: LogicalType
    public var nullable: Bool

    public init(_ name: String, _ type: LogicalType, nullable: Bool = true) {
        self.name = name
        self.type = type
        self.nullable = nullable
    }
}

/// An ordered list of fields. Names are unique (case-sensitive).
public struct Schema: Sendable, Hashable, Codable {
    public let fields: [Field]
    private let positions: [String: Int]

    public init(_ fields: [Field]) {
        self.fields = fields
        var positions: [String: Int] = [:]
        for (i, f) in fields.enumerated() where positions[f.name] == nil { positions[f.name] = i }
        self.positions = positions
    }

    public var count: Int { fields.count }
    public var names: [String] { fields.map(\.name) }
    public subscript(_ i: Int) -> Field { fields[i] }

    /// The position of the field named `name`, or nil.
    public func index(of name: String) -> Int? { positions[name] }

    /// Fails for a column name no system can take as an identifier: empty, or with a NUL byte (a
    /// CSV header or a JSON key can carry one; SQL identifiers and C strings cannot).
    /// - Throws: `DponeError(.schema)` naming the column (NUL shown as `\0`) and `origin`.
    public func requireUsableNames(_ origin: String) throws {
        for (i, field) in fields.enumerated() where field.name.isEmpty || field.name.utf8.contains(0) {
            let shown = field.name.replacingOccurrences(of: "\u{0}", with: "\\0")
            throw DponeError(
                .schema,
                field.name.isEmpty
                    ? "column \(i + 1) of \(origin) has an empty name"
                    : "column \(i + 1) of \(origin) has a name with a NUL byte: '\(shown)'",
                hint: "fix the header or key in the source, or leave the column out (select / columns)",
                context: ["column": shown])
        }
    }

    /// Names that appear more than once.
    public var duplicateNames: [String] {
        var seen: Set<String> = []
        var dups: [String] = []
        for f in fields where !seen.insert(f.name).inserted { dups.append(f.name) }
        return dups
    }

    private enum CodingKeys: String, CodingKey { case fields }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try c.decode([Field].self, forKey: .fields))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fields, forKey: .fields)
    }

    public static func == (a: Schema, b: Schema) -> Bool { a.fields == b.fields }
    public func hash(into h: inout Hasher) { h.combine(fields) }
}
