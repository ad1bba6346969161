/// A recursive-descent reader of ClickHouse type names: `Name`, `Name(arg, ...)` where an argument is
/// a type, an integer, a quoted string or `'name' = integer` (enum entries).
struct ClickHouseTypeNameParser {
    indirect enum Argument {
        case type(Node)
        case integer(Int)
        case string(String)
        case enumEntry(String, Int)
    }

    struct Node {
        var name: String
        var arguments: [Argument]?
        /// The exact source text of the node (for `.unsupported`).
        var text: String
    }

    private let bytes: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool {
        mutating get {
            skipSpace()
            return i == bytes.count
        }
    }

    mutating func parseNode() -> Node? {
        skipSpace()
        let start = i
        while i < bytes.count, Self.isIdentifier(bytes[i]) { i += 1 }
        guard i > start else { return nil }
        let name = String(decoding: bytes[start..<i], as: UTF8.self)
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "(") else {
            return Node(name: name, arguments: nil, text: name)
        }
        i += 1
        var arguments: [Argument] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: ")") {
            i += 1
        } else {
            while true {
                guard let argument = parseArgument() else { return nil }
                arguments.append(argument)
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard bytes[i] == UInt8(ascii: ")") else { return nil }
                i += 1
                break
            }
        }
        return Node(name: name, arguments: arguments, text: String(decoding: bytes[start..<i], as: UTF8.self))
    }

    private mutating func parseArgument() -> Argument? {
        skipSpace()
        guard i < bytes.count else { return nil }
        let c = bytes[i]
        if c == UInt8(ascii: "'") {
            guard let s = parseQuoted() else { return nil }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { return .string(s) }
            i += 1
            skipSpace()
            guard let v = parseInteger() else { return nil }
            return .enumEntry(s, v)
        }
        if c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
            return parseInteger().map(Argument.integer)
        }
        return parseNode().map(Argument.type)
    }

    private mutating func parseInteger() -> Int? {
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        let start = i
        var v = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            v = a
            i += 1
        }
        guard i > start else { return nil }
        return negative ? -v : v
    }

    /// A single-quoted literal with backslash escapes (`\'`, `\\`, and any `\x` taken as `x`).
    private mutating func parseQuoted() -> String? {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\\") {
                guard i < bytes.count else { return nil }
                out.append(bytes[i])
                i += 1
            } else if c == UInt8(ascii: "'") {
                return String(decoding: out, as: UTF8.self)
            } else {
                out.append(c)
            }
        }
        return nil
    }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
    }

    private static func isIdentifier(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
    }
}

extension ClickHouseType {
    /// Types named without arguments.
    static let simpleNames: [String: ClickHouseType] = [
        "Int8": .int8, "Int16": .int16, "Int32": .int32, "Int64": .int64,
        "UInt8": .uint8, "UInt16": .uint16, "UInt32": .uint32, "UInt64": .uint64,
        "Float32": .float32, "Float64": .float64, "String": .string, "UUID": .uuid,
        "Date": .date, "Date32": .date32, "DateTime": .dateTime(timeZone: nil), "Bool": .bool,
    ]

    /// Precision implied by the `DecimalNN(s)` spellings.
    static let decimalWidths: [String: Int] = ["Decimal32": 9, "Decimal64": 18, "Decimal128": 38, "Decimal256": 76]

    /// Builds the type of a parsed node; nil when a known type has malformed arguments.
    init?(node: ClickHouseTypeNameParser.Node) {
        typealias A = ClickHouseTypeNameParser.Argument
        guard let args = node.arguments else {
            self = Self.simpleNames[node.name] ?? .unsupported(node.text)
            return
        }
        func innerType() -> ClickHouseType? {
            guard args.count == 1, case .type(let n) = args[0] else { return nil }
            return ClickHouseType(node: n)
        }
        switch node.name {
        case "Nullable":
            guard let t = innerType() else { return nil }
            self = .nullable(t)
        case "LowCardinality":
            guard let t = innerType() else { return nil }
            self = .lowCardinality(t)
        case "Array":
            guard let t = innerType() else { return nil }
            self = .array(t)
        case "FixedString":
            guard args.count == 1, case .integer(let n) = args[0], n > 0 else { return nil }
            self = .fixedString(n)
        case "Decimal":
            guard args.count == 2, case .integer(let p) = args[0], case .integer(let s) = args[1],
                (1...76).contains(p), (0...p).contains(s)
            else { return nil }
            self = .decimal(precision: p, scale: s)
        case "Decimal32", "Decimal64", "Decimal128", "Decimal256":
            let p = Self.decimalWidths[node.name]!
            guard args.count == 1, case .integer(let s) = args[0], (0...p).contains(s) else { return nil }
            self = .decimal(precision: p, scale: s)
        case "DateTime":
            guard args.count == 1, case .string(let tz) = args[0] else { return nil }
            self = .dateTime(timeZone: tz)
        case "DateTime64":
            guard (1...2).contains(args.count), case .integer(let p) = args[0], (0...9).contains(p) else { return nil }
            var tz: String?
            if args.count == 2 {
                guard case .string(let z) = args[1] else { return nil }
                tz = z
            }
            self = .dateTime64(precision: p, timeZone: tz)
        case "Enum8", "Enum16":
            var cases: [ClickHouseEnumCase] = []
            let range = node.name == "Enum8" ? -128...127 : -32768...32767
            for a in args {
                guard case .enumEntry(let name, let v) = a, range.contains(v) else { return nil }
                cases.append(ClickHouseEnumCase(name, v))
            }
            guard !cases.isEmpty else { return nil }
            self = node.name == "Enum8" ? .enum8(cases) : .enum16(cases)
        default:
            self = .unsupported(node.text)
        }
    }
}
