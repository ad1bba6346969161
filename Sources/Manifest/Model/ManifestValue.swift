/// An untyped, env-resolved manifest value: kept for connector-specific options this module does not model.
public indirect enum ManifestValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ManifestValue])
    /// Keys in document order.
    case mapping([MappingEntry])

    public struct MappingEntry: Sendable, Hashable {
        public var key: String
        public var value: ManifestValue
        public init(key: String, value: ManifestValue) {
            self.key = key
            self.value = value
        }
    }

    /// The value under `key` of a mapping, or nil.
    public subscript(key: String) -> ManifestValue? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    private struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .int(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .double(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .string(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .list(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .mapping(let entries):
            var c = encoder.container(keyedBy: DynamicKey.self)
            for e in entries { try c.encode(e.value, forKey: DynamicKey(stringValue: e.key)) }
        }
    }

    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: DynamicKey.self) {
            self = .mapping(
                try keyed.allKeys.map { MappingEntry(key: $0.stringValue, value: try keyed.decode(ManifestValue.self, forKey: $0)) })
            return
        }
        if var unkeyed = try? decoder.unkeyedContainer() {
            var items: [ManifestValue] = []
            while !unkeyed.isAtEnd { items.append(try unkeyed.decode(ManifestValue.self)) }
            self = .list(items)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let v = try? c.decode(Bool.self) {
            self = .bool(v)
        } else if let v = try? c.decode(Int.self) {
            self = .int(v)
        } else if let v = try? c.decode(Double.self) {
            self = .double(v)
        } else {
            self = .string(try c.decode(String.self))
        }
    }
}
