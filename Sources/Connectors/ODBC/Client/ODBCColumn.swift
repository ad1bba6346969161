import CODBC
import Flow

/// ODBC's type codes (`SQL_*` data types and `SQL_C_*` buffer types), spelled here because the
/// headers build several of them from macros Swift does not import.
enum ODBCType {
    // SQL data types.
    static let char: SQLSMALLINT = 1, numeric: SQLSMALLINT = 2, decimal: SQLSMALLINT = 3, integer: SQLSMALLINT = 4
    static let smallint: SQLSMALLINT = 5, float: SQLSMALLINT = 6, real: SQLSMALLINT = 7, double: SQLSMALLINT = 8
    static let varchar: SQLSMALLINT = 12, date: SQLSMALLINT = 91, time: SQLSMALLINT = 92, timestamp: SQLSMALLINT = 93
    static let longvarchar: SQLSMALLINT = -1, binary: SQLSMALLINT = -2, varbinary: SQLSMALLINT = -3
    static let longvarbinary: SQLSMALLINT = -4, bigint: SQLSMALLINT = -5, tinyint: SQLSMALLINT = -6, bit: SQLSMALLINT = -7
    static let wchar: SQLSMALLINT = -8, wvarchar: SQLSMALLINT = -9, wlongvarchar: SQLSMALLINT = -10, guid: SQLSMALLINT = -11
    /// SQL Server's `time(n)` and `datetimeoffset(n)` (msodbcsql, FreeTDS).
    static let ssTime2: SQLSMALLINT = -154, ssTimestampOffset: SQLSMALLINT = -155
    /// Legacy (ODBC 2) date and time codes some drivers still report.
    static let legacyDate: SQLSMALLINT = 9, legacyTime: SQLSMALLINT = 10, legacyTimestamp: SQLSMALLINT = 11

    // C buffer types.
    static let cChar: SQLSMALLINT = 1, cWChar: SQLSMALLINT = -8, cSShort: SQLSMALLINT = -15, cSLong: SQLSMALLINT = -16
    static let cSBigint: SQLSMALLINT = -25, cFloat: SQLSMALLINT = 7, cDouble: SQLSMALLINT = 8, cBit: SQLSMALLINT = -7
    static let cBinary: SQLSMALLINT = -2, cDate: SQLSMALLINT = 91, cTimestamp: SQLSMALLINT = 93
}

/// How one result column is fetched into a column buffer, and what it becomes.
enum ODBCFetch: Equatable {
    case int16, int32, int64, float32, float64, bit, date, timestamp
    /// UTF-16 text of at most `chars` code units per value.
    case wideText(chars: Int)
    /// UTF-8 text of at most `bytes` per value (a driver without wide-character entry points).
    case utf8Text(bytes: Int)
    /// ASCII text (decimals, uuids, times, offsets) of at most `bytes` per value, parsed as the column's type.
    case asciiText(bytes: Int)
    case binary(bytes: Int)
    /// Unbounded (`(max)`, `text`, `bytea`...): not bound, read in chunks with `SQLGetData` after
    /// the bound columns of the row.
    case longText(wide: Bool), longBinary

    /// Bytes one value takes in a bound column buffer (0: not bound).
    var elementSize: Int {
        switch self {
        case .int16: 2
        case .int32: 4
        case .int64, .float64: 8
        case .float32: 4
        case .bit: 1
        case .date: MemoryLayout<SQL_DATE_STRUCT>.stride
        case .timestamp: MemoryLayout<SQL_TIMESTAMP_STRUCT>.stride
        case .wideText(let chars): (chars + 1) * 2
        case .utf8Text(let bytes), .asciiText(let bytes): bytes + 1
        case .binary(let bytes): max(bytes, 1)
        case .longText, .longBinary: 0
        }
    }

    var isLong: Bool {
        switch self {
        case .longText, .longBinary: true
        default: false
        }
    }

    var cType: SQLSMALLINT {
        switch self {
        case .int16: ODBCType.cSShort
        case .int32: ODBCType.cSLong
        case .int64: ODBCType.cSBigint
        case .float32: ODBCType.cFloat
        case .float64: ODBCType.cDouble
        case .bit: ODBCType.cBit
        case .date: ODBCType.cDate
        case .timestamp: ODBCType.cTimestamp
        case .wideText, .longText(wide: true): ODBCType.cWChar
        case .asciiText, .utf8Text, .longText(wide: false): ODBCType.cChar
        case .binary, .longBinary: ODBCType.cBinary
        }
    }
}

/// One column of a result set as `SQLDescribeCol` reports it, with its dpone type.
public struct ODBCColumn: Sendable, Equatable {
    public var name: String
    public var sqlType: Int16
    /// Characters or digits (`SQLDescribeCol`'s column size); 0 when the driver does not know.
    public var size: Int
    public var digits: Int
    public var nullable: Bool
    public var type: LogicalType
    var fetch: ODBCFetch

    /// Text or binary wider than this is read in chunks (`SQLGetData`), not bound: drivers report
    /// `(max)` and `text` columns as about 2 GB wide.
    static let longThreshold = 4_000

    /// The dpone type of an ODBC column, or nil when it has none.
    /// `wide`: text crosses as UTF-16 (`SQL_C_WCHAR`); else as UTF-8 bytes (`SQL_C_CHAR`).
    static func mapping(sqlType: SQLSMALLINT, size: Int, digits: Int, wide: Bool = true) -> (LogicalType, ODBCFetch)? {
        switch sqlType {
        case ODBCType.bit: return (.bool, .bit)
        case ODBCType.tinyint, ODBCType.smallint: return (.int16, .int16)
        case ODBCType.integer: return (.int32, .int32)
        case ODBCType.bigint: return (.int64, .int64)
        case ODBCType.real: return (.float32, .float32)
        case ODBCType.float, ODBCType.double: return (.float64, .float64)
        case ODBCType.decimal, ODBCType.numeric:
            // Exact, as text: a driver's own decimal structs differ, and text keeps every digit.
            if size > 0, size <= 38, digits >= 0, digits <= size {
                return (.decimal(precision: size, scale: digits), .asciiText(bytes: size + 3))
            }
            return (.numeric, .longText(wide: wide))
        case ODBCType.char, ODBCType.varchar, ODBCType.wchar, ODBCType.wvarchar:
            guard size > 0, size <= longThreshold else { return (.string, .longText(wide: wide)) }
            return (.string, wide ? .wideText(chars: size) : .utf8Text(bytes: size * 4))
        case ODBCType.longvarchar, ODBCType.wlongvarchar:
            return (.string, .longText(wide: wide))
        case ODBCType.binary, ODBCType.varbinary:
            return size > 0 && size <= longThreshold * 2 ? (.bytes, .binary(bytes: size)) : (.bytes, .longBinary)
        case ODBCType.longvarbinary: return (.bytes, .longBinary)
        case ODBCType.date, ODBCType.legacyDate: return (.date, .date)
        case ODBCType.timestamp, ODBCType.legacyTimestamp: return (.timestamp(withTimeZone: false), .timestamp)
        case ODBCType.time, ODBCType.legacyTime, ODBCType.ssTime2: return (.time, .asciiText(bytes: 32))
        case ODBCType.ssTimestampOffset: return (.timestamp(withTimeZone: true), .asciiText(bytes: 48))
        case ODBCType.guid: return (.uuid, .asciiText(bytes: 36))
        default: return nil
        }
    }

    /// A readable name of an ODBC SQL type code, for errors.
    static func typeName(_ code: SQLSMALLINT) -> String {
        let names: [SQLSMALLINT: String] = [
            -150: "sql_variant", -151: "udt", -152: "xml", -153: "table", -154: "time2", -155: "datetimeoffset",
            -11: "guid", -10: "wlongvarchar", 0: "unknown",
        ]
        return names[code].map { "\($0) (\(code))" } ?? "SQL type \(code)"
    }
}
