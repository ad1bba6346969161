/// A single value outside the columnar data path: cursors in state, predicate literals, tests.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case float(Double)
    /// Unscaled integer and scale: `decimal(12345, scale: 2)` is 123.45.
    case decimal(Int128, scale: Int)
    case string(String)
    case bytes([UInt8])
    /// Days since 1970-01-01.
    case date(Int32)
    /// Microseconds since midnight.
    case time(Int64)
    /// Microseconds since the Unix epoch.
    case timestamp(Int64, withTimeZone: Bool)
    case uuid([UInt8])
    case json(String)

    public var isNull: Bool { if case .null = self { true } else { false } }
}

extension Value: Comparable {
    /// Orders values of the same kind; numbers compare across int/float/decimal. NULL sorts first.
    public static func < (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case (.null, .null): return false
        case (.null, _): return true
        case (_, .null): return false
        case (.bool(let x), .bool(let y)): return !x && y
        case (.int(let x), .int(let y)): return x < y
        case (.string(let x), .string(let y)), (.json(let x), .json(let y)):
            return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8))
        case (.bytes(let x), .bytes(let y)), (.uuid(let x), .uuid(let y)): return x.lexicographicallyPrecedes(y)
        case (.date(let x), .date(let y)): return x < y
        case (.time(let x), .time(let y)): return x < y
        case (.timestamp(let x, _), .timestamp(let y, _)): return x < y
        case (.decimal(let x, let sx), .decimal(let y, let sy)):
            let (ax, ay) = Value.align(x, sx, y, sy)
            return ax < ay
        default:
            if let x = a.numericDouble, let y = b.numericDouble { return x < y }
            return a.kindOrder < b.kindOrder
        }
    }

    static func align(_ x: Int128, _ sx: Int, _ y: Int128, _ sy: Int) -> (Int128, Int128) {
        var x = x, y = y
        if sx < sy { for _ in sx..<sy { x = x &* 10 } } else if sy < sx { for _ in sy..<sx { y = y &* 10 } }
        return (x, y)
    }

    var numericDouble: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .float(let v): return v
        case .decimal(let v, let s):
            var d = Double(v)
            for _ in 0..<s { d /= 10 }
            return d
        default: return nil
        }
    }

    private var kindOrder: Int {
        switch self {
        case .null: 0
        case .bool: 1
        case .int, .float, .decimal: 2
        case .string: 3
        case .bytes: 4
        case .date: 5
        case .time: 6
        case .timestamp: 7
        case .uuid: 8
        case .json: 9
        }
    }
}
