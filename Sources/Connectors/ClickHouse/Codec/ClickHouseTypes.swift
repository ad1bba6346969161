import Flow

/// Choices the type mapping leaves to the user, each lossless by default.
public struct ClickHouseTypePolicy: Sendable, Hashable {
    /// How `UInt64` columns are read.
    public enum UInt64Mapping: Sendable, Hashable {
        /// As `decimal(20,0)`: every UInt64 fits exactly (the default).
        case decimal
        /// Mapping a UInt64 column is an error naming the column.
        case reject
    }

    /// How `DateTime64(p)` columns with p > 6 (finer than Flow's microseconds) are read.
    public enum SubMicrosecond: Sendable, Hashable {
        /// Mapping such a column is an error naming the column (the default).
        case reject
        /// Read them; a value with non-zero digits below the microsecond is an error naming the column.
        case requireWholeMicroseconds
        /// Read them rounded toward negative infinity to the microsecond. An explicit opt-in to a lossy read.
        case truncate
    }

    public var uint64: UInt64Mapping
    public var subMicrosecond: SubMicrosecond

    public init(uint64: UInt64Mapping = .decimal, subMicrosecond: SubMicrosecond = .reject) {
        self.uint64 = uint64
        self.subMicrosecond = subMicrosecond
    }
}

/// What the target server's types allow; the DDL mapping depends on it. The client derives it from the
/// server version (DateTime64 since 20.1, Bool since 22.1, Date32 with the 1900–2299 range since 22.x).
public struct ClickHouseTypeSupport: Sendable, Hashable {
    public var supportsDateTime64: Bool
    public var supportsBool: Bool
    public var supportsDate32: Bool
    /// `Decimal(76, s)` (Decimal256), production-ready since 21.6.
    public var supportsDecimal256: Bool
    /// The last day number a `Date` may hold. A Date column stores any UInt16 (up to 2149-06-06), but
    /// ClickHouse 18.16's date tables end at 2106-02-07: later days display and compute as 1970 dates
    /// there (checked against the server), so the encoders reject them.
    public var lastDate: Int32

    public init(
        supportsDateTime64: Bool, supportsBool: Bool, supportsDate32: Bool = false, supportsDecimal256: Bool = false,
        lastDate: Int32 = 65_535
    ) {
        self.supportsDateTime64 = supportsDateTime64
        self.supportsBool = supportsBool
        self.supportsDate32 = supportsDate32
        self.supportsDecimal256 = supportsDecimal256
        self.lastDate = lastDate
    }

    /// ClickHouse 18.16: none of them; Date up to 2106-02-07.
    public static let legacy = ClickHouseTypeSupport(supportsDateTime64: false, supportsBool: false, lastDate: 49_710)
    /// ClickHouse 23 and later: all of them; Date up to 2149-06-06.
    public static let modern = ClickHouseTypeSupport(
        supportsDateTime64: true, supportsBool: true, supportsDate32: true, supportsDecimal256: true)

    /// The scale of the `Decimal(76, s)` a `numeric` column (an exact decimal of any precision)
    /// is created as: 56 digits before the point, 20 after (PostgreSQL's own default for the
    /// results of numeric division). A value with more is an error naming it, never rounded.
    public static let numericScale = 20

    /// Day numbers a `Date` column accepts on this server.
    public var dateRange: ClosedRange<Int32> { 0...lastDate }
}

/// The mapping between ClickHouse types and Flow logical types, both ways.
///
/// Reading (`logicalType(of:column:policy:)`), by the base type under `Nullable` (which makes the
/// field nullable):
///
/// | ClickHouse                                  | Flow                                               |
/// | ------------------------------------------- | -------------------------------------------------- |
/// | Int8, Int16 / Int32 / Int64                 | int16 / int32 / int64                              |
/// | UInt8, UInt16 / UInt32                      | int32 / int64                                      |
/// | UInt64                                      | decimal(20,0), or an error by policy               |
/// | Float32 / Float64                           | float32 / float64                                  |
/// | Decimal(p,s), Decimal32/64/128(s)           | decimal(p,s); p > 38 (Decimal256) is an error      |
/// | String, FixedString(n)                      | string (FixedString's trailing zero bytes trimmed) |
/// | LowCardinality(String / FixedString(n))     | string (nullable when the dictionary is)           |
/// | Enum8, Enum16                               | string (the case name)                             |
/// | UUID                                        | uuid                                               |
/// | Date, Date32                                | date                                               |
/// | DateTime, DateTime('tz')                    | timestamptz (whole seconds)                        |
/// | DateTime64(p[, 'tz']), p ≤ 6                | timestamptz (µs); p > 6 by policy                  |
/// | Bool                                        | bool                                               |
/// | Array(T) of any type above                  | json (an array as JSON text)                       |
///
/// Anything else (Int128, UInt256, IPv4, Map, Tuple, Nothing, LowCardinality of a number, ...) is an
/// error naming the column. String bytes are passed through unvalidated: a sink that needs UTF-8
/// rejects invalid text.
///
/// Writing (`ddlType(for:support:)`), the target type dpone creates for a Flow type:
///
/// | Flow          | ClickHouse (modern)        | ClickHouse 18.16 (`.legacy`)                         |
/// | ------------- | -------------------------- | ---------------------------------------------------- |
/// | bool          | Bool                       | UInt8 (0 / 1)                                         |
/// | int16/32/64   | Int16 / Int32 / Int64      | same                                                 |
/// | float32/64    | Float32 / Float64          | same                                                 |
/// | decimal(p,s)  | Decimal(p, s)              | same                                                 |
/// | numeric       | Decimal(76, 20) (since 21.6) | String (the exact text: 18.16 has no Decimal256)   |
/// | string, json, bytes | String               | same                                                 |
/// | date          | Date32 (1900-01-01 ... 2299-12-31) | Date (1970-01-01 ... 2106-02-07)             |
/// | time          | String `HH:MM:SS.ffffff`    | same                                                 |
/// | timestamp(tz) | DateTime64(6, 'UTC')       | String `YYYY-MM-DD HH:MM:SS.ffffff` (UTC for timestamptz) |
/// | uuid          | UUID                       | same                                                 |
/// | nullable      | Nullable(T)                | same                                                 |
///
/// The 18.16 timestamp policy: that server has no type that holds microseconds, so timestamps are stored
/// as fixed-width ISO text (always six fractional digits, four-digit years 0000–9999): lossless,
/// readable, in chronological order when sorted as text, and the column keeps its name (keys, cursors and
/// strategies are unaffected); `toDateTime(substring(col, 1, 19))` recovers a DateTime in SQL. A value
/// is never truncated: the encoders reject a year outside 0000–9999, a Date outside its range, a
/// DateTime64 below its precision — each an error naming the column and the value.
public enum ClickHouseTypes {
    /// Day numbers a `Date32` holds on current servers: 1900-01-01 ... 2299-12-31.
    public static let date32Range: ClosedRange<Int32> =
        Int32(CivilCalendar.days(year: 1900, month: 1, day: 1))...Int32(CivilCalendar.days(year: 2299, month: 12, day: 31))

    /// The Flow field for a ClickHouse column.
    /// - Throws: `DponeError(.schema)` naming the column when the type has no lossless mapping.
    public static func field(
        name: String, type: ClickHouseType, policy: ClickHouseTypePolicy = ClickHouseTypePolicy()
    ) throws -> Field {
        Field(name, try logicalType(of: type, column: name, policy: policy), nullable: type.isNullable)
    }

    /// The Flow type values of `type` are read as (see the table above).
    public static func logicalType(
        of type: ClickHouseType, column: String, policy: ClickHouseTypePolicy = ClickHouseTypePolicy()
    ) throws -> LogicalType {
        func fail(_ reason: String) -> DponeError {
            DponeError(
                .schema, "ClickHouse column \"\(column)\" has type \(type.name): \(reason)",
                hint: "cast it in the query (e.g. toString(\(column))) or exclude the column",
                context: ["column": column])
        }
        switch type {
        case .nullable(let inner):
            if case .nullable = inner { throw fail("Nullable(Nullable) is not a type") }
            return try logicalType(of: inner, column: column, policy: policy)
        case .lowCardinality(let inner):
            switch inner.base {
            case .string, .fixedString: return .string
            default: throw fail("only LowCardinality(String) and LowCardinality(FixedString) are supported")
            }
        case .array(let element):
            try checkArrayElement(element, fail: fail, policy: policy)
            return .json
        case .int8, .int16: return .int16
        case .int32: return .int32
        case .int64: return .int64
        case .uint8, .uint16: return .int32
        case .uint32: return .int64
        case .uint64:
            guard policy.uint64 == .decimal else { throw fail("UInt64 columns are rejected by the type policy") }
            return .decimal(precision: 20, scale: 0)
        case .float32: return .float32
        case .float64: return .float64
        case .decimal(let p, let s):
            guard p <= LogicalType.maxDecimalPrecision else {
                throw fail("decimals wider than \(LogicalType.maxDecimalPrecision) digits are not supported")
            }
            return .decimal(precision: p, scale: s)
        case .string, .fixedString, .enum8, .enum16: return .string
        case .uuid: return .uuid
        case .date, .date32: return .date
        case .dateTime: return .timestamp(withTimeZone: true)
        case .dateTime64(let p, _):
            if p > 6 && policy.subMicrosecond == .reject {
                throw fail("precision \(p) is finer than microseconds (set the sub-microsecond policy to read it)")
            }
            return .timestamp(withTimeZone: true)
        case .bool: return .bool
        case .unsupported(let name): throw fail("\(name) is not supported")
        }
    }

    private static func checkArrayElement(
        _ element: ClickHouseType, fail: (String) -> DponeError, policy: ClickHouseTypePolicy
    ) throws {
        switch element {
        case .lowCardinality: throw fail("LowCardinality inside Array is not supported")
        case .nullable(let t), .array(let t): try checkArrayElement(t, fail: fail, policy: policy)
        case .unsupported(let name): throw fail("arrays of \(name) are not supported")
        case .decimal(let p, _) where p > LogicalType.maxDecimalPrecision:
            throw fail("decimals wider than \(LogicalType.maxDecimalPrecision) digits are not supported")
        case .dateTime64(let p, _) where p > 6 && policy.subMicrosecond == .reject:
            throw fail("precision \(p) is finer than microseconds")
        default: return
        }
    }

    /// The column type dpone creates for `field` on a server with `support` (see the table above).
    public static func ddlType(for field: Field, support: ClickHouseTypeSupport) -> ClickHouseType {
        ddlType(for: field.type, nullable: field.nullable, support: support)
    }

    public static func ddlType(for type: LogicalType, nullable: Bool, support: ClickHouseTypeSupport) -> ClickHouseType {
        let base: ClickHouseType
        switch type {
        case .bool: base = support.supportsBool ? .bool : .uint8
        case .int16: base = .int16
        case .int32: base = .int32
        case .int64: base = .int64
        case .float32: base = .float32
        case .float64: base = .float64
        case .decimal(let p, let s): base = .decimal(precision: p, scale: s)
        case .numeric:
            base = support.supportsDecimal256 ? .decimal(precision: 76, scale: ClickHouseTypeSupport.numericScale) : .string
        case .list(let element):
            // ClickHouse has no Nullable(Array): a NULL list is written as an empty array.
            return .array(ddlType(for: element, nullable: true, support: support))
        case .string, .json, .bytes, .time: base = .string
        case .date: base = support.supportsDate32 ? .date32 : .date
        case .timestamp:
            base = support.supportsDateTime64 ? .dateTime64(precision: 6, timeZone: "UTC") : .string
        case .uuid: base = .uuid
        }
        return nullable ? .nullable(base) : base
    }
}
