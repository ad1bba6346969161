/// The resolved shape of a parsed `.proto` file: what the decoder and the schema mapping read.
///
/// Messages and enums live in flat tables and refer to each other by index, so recursive message
/// types need no reference cycles and the whole file stays a plain `Sendable` value.

/// The scalar value types of the protobuf language.
public enum ProtoScalar: String, Sendable, Hashable, CaseIterable {
    case double, float, int32, int64, uint32, uint64, sint32, sint64
    case fixed32, fixed64, sfixed32, sfixed64, bool, string, bytes

    /// The wire type a single value of this scalar is written with.
    public var wireType: ProtoWireType {
        switch self {
        case .int32, .int64, .uint32, .uint64, .sint32, .sint64, .bool: .varint
        case .fixed64, .sfixed64, .double: .fixed64
        case .fixed32, .sfixed32, .float: .fixed32
        case .string, .bytes: .lengthDelimited
        }
    }
}

/// The wire types of the encoding (3 and 4 are the deprecated groups).
public enum ProtoWireType: UInt8, Sendable, Hashable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// What a field holds, resolved.
public enum ProtoFieldType: Sendable, Hashable {
    case scalar(ProtoScalar)
    /// Index into `ProtoFile.enums`.
    case enumeration(Int)
    /// Index into `ProtoFile.messages`.
    case message(Int)
    /// `google.protobuf.Timestamp`, known without its import being resolved.
    case timestamp

    /// The wire type one value is written with.
    public var wireType: ProtoWireType {
        switch self {
        case .scalar(let s): s.wireType
        case .enumeration: .varint
        case .message, .timestamp: .lengthDelimited
        }
    }

    /// Whether repeated values of this type may be packed into one length-delimited record.
    public var isPackable: Bool { wireType != .lengthDelimited }
}

/// The cardinality a field was declared with.
public enum ProtoLabel: Sendable, Hashable {
    /// No label: a proto3 singular field without presence (proto2: treated as `optional`).
    case implicit
    case optional
    case required
    case repeated
}

public struct ProtoField: Sendable, Hashable {
    public let name: String
    public let number: Int32
    public let label: ProtoLabel
    public let type: ProtoFieldType
    /// Index into the message's `oneofs` when the field is a member of one.
    public let oneof: Int?
    /// A `map<K,V>` field: repeated, its type a map-entry message (key = 1, value = 2).
    public let isMap: Bool

    public var isRepeated: Bool { label == .repeated }
}

public struct ProtoMessage: Sendable {
    /// Index into `ProtoFile.messages`.
    public let id: Int
    public let name: String
    /// Dotted, with the package: `shop.Order.Item`.
    public let fullName: String
    /// In declaration order.
    public let fields: [ProtoField]
    public let oneofs: [String]
    /// Declared nested messages in declaration order (map entries excluded): what Confluent
    /// message indexes count.
    public let nestedMessages: [Int]
    /// Synthesised for a `map<K,V>` field; never declared in the text.
    public let isMapEntry: Bool
    let numbers: FieldNumberIndex

    init(id: Int, name: String, fullName: String, fields: [ProtoField], oneofs: [String],
         nestedMessages: [Int], isMapEntry: Bool) {
        self.id = id
        self.name = name
        self.fullName = fullName
        self.fields = fields
        self.oneofs = oneofs
        self.nestedMessages = nestedMessages
        self.isMapEntry = isMapEntry
        self.numbers = FieldNumberIndex(fields.map(\.number))
    }

    /// The index in `fields` of the field numbered `number`, or nil (an unknown field).
    @inline(__always)
    public func fieldIndex(number: Int32) -> Int? { numbers.index(of: number) }
}

public struct ProtoEnumValue: Sendable, Hashable {
    public let name: String
    public let number: Int32
}

public struct ProtoEnum: Sendable {
    public let name: String
    public let fullName: String
    /// In declaration order; aliases (`allow_alias`) share a number.
    public let values: [ProtoEnumValue]

    /// The first declared symbol with `number`, or nil for a number the schema does not know.
    public func symbol(for number: Int32) -> String? {
        for v in values where v.number == number { return v.name }
        return nil
    }

    /// The value of an absent field: the symbol numbered 0 (proto3 requires one), else the first.
    public var defaultNumber: Int32 {
        for v in values where v.number == 0 { return 0 }
        return values.first?.number ?? 0
    }
}

/// Field number → field index, without hashing on the decode path: a dense table for the usual
/// small numbers, a sorted table with binary search past it.
struct FieldNumberIndex: Sendable {
    private static let denseLimit: Int32 = 2048
    private var dense: [Int32] = []
    private var sorted: [(number: Int32, index: Int32)] = []

    init(_ numbers: [Int32]) {
        let maxNumber = numbers.max() ?? 0
        if maxNumber < Self.denseLimit {
            dense = Array(repeating: -1, count: Int(maxNumber) + 1)
            for (i, n) in numbers.enumerated() where n > 0 && dense[Int(n)] < 0 { dense[Int(n)] = Int32(i) }
        } else {
            sorted = numbers.enumerated().map { (number: $0.element, index: Int32($0.offset)) }
            sorted.sort { $0.number < $1.number }
        }
    }

    @inline(__always)
    func index(of number: Int32) -> Int? {
        if !dense.isEmpty || sorted.isEmpty {
            guard number >= 0, Int(number) < dense.count else { return nil }
            let i = dense[Int(number)]
            return i < 0 ? nil : Int(i)
        }
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid].number < number { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo].number == number ? Int(sorted[lo].index) : nil
    }
}

/// A `.proto` text that does not parse or resolve, or a message selection that names nothing;
/// `line` and `column` (1-based) point into the text when the error has a place.
public struct ProtoSchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var line: Int
    public var column: Int

    public init(_ message: String, line: Int = 0, column: Int = 0) {
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String { line > 0 ? "\(line):\(column): \(message)" : message }
}
