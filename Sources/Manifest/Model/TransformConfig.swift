import Flow

/// One step of `transforms`, applied in order.
public enum TransformConfig: Sendable, Hashable, Codable {
    /// `{type: rename, columns: {old: new}}`, pairs in document order.
    case rename([ColumnRename])
    /// `{type: select, columns: [a, b]}`: keep these columns, in this order.
    case select([String])
    /// `{type: cast, columns: {col: type}, allow_lossy: false}`, pairs in document order.
    case cast([ColumnCast], allowLossy: Bool)
    /// `{type: filter, predicate: "amount > 0"}`.
    case filter(predicate: String)

    /// The manifest spelling of `type`.
    public var kind: TransformKind {
        switch self {
        case .rename: .rename
        case .select: .select
        case .cast: .cast
        case .filter: .filter
        }
    }

    enum CodingKeys: String, CodingKey {
        case type, columns, predicate
        case allowLossy = "allow_lossy"
    }

    private struct ColumnKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .type)
        switch self {
        case .rename(let pairs):
            var m = c.nestedContainer(keyedBy: ColumnKey.self, forKey: .columns)
            for p in pairs { try m.encode(p.to, forKey: ColumnKey(stringValue: p.from)) }
        case .select(let columns):
            try c.encode(columns, forKey: .columns)
        case .cast(let casts, let allowLossy):
            var m = c.nestedContainer(keyedBy: ColumnKey.self, forKey: .columns)
            for cast in casts { try m.encode(cast.type, forKey: ColumnKey(stringValue: cast.column)) }
            try c.encode(allowLossy, forKey: .allowLossy)
        case .filter(let predicate):
            try c.encode(predicate, forKey: .predicate)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(TransformKind.self, forKey: .type) {
        case .rename:
            let m = try c.nestedContainer(keyedBy: ColumnKey.self, forKey: .columns)
            self = .rename(
                try m.allKeys.map { ColumnRename(from: $0.stringValue, to: try m.decode(String.self, forKey: $0)) })
        case .select:
            self = .select(try c.decode([String].self, forKey: .columns))
        case .cast:
            let m = try c.nestedContainer(keyedBy: ColumnKey.self, forKey: .columns)
            self = .cast(
                try m.allKeys.map { ColumnCast(column: $0.stringValue, type: try m.decode(LogicalType.self, forKey: $0)) },
                allowLossy: try c.decodeIfPresent(Bool.self, forKey: .allowLossy) ?? false)
        case .filter:
            self = .filter(predicate: try c.decode(String.self, forKey: .predicate))
        }
    }
}

/// The `type` of a transform.
public enum TransformKind: String, Sendable, Hashable, Codable, CaseIterable {
    case rename, select, cast, filter
}

/// One `old: new` pair of a rename.
public struct ColumnRename: Sendable, Hashable, Codable {
    public var from: String
    public var to: String
    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }
}

/// One `column: type` pair of a cast.
public struct ColumnCast: Sendable, Hashable, Codable {
    public var column: String
    public var type: LogicalType
    public init(column: String, type: LogicalType) {
        self.column = column
        self.type = type
    }
}
