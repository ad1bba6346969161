import Flow

/// How one column's values travel in PostgreSQL's binary format (COPY BINARY, binary results):
/// the `typsend` / `typreceive` layout of the column's PostgreSQL type.
///
/// The codec pairs each column's wire format with its Flow `LogicalType` (see `accepts(_:)`);
/// `PostgresTypes` derives both from the catalog.
public indirect enum PostgresWireFormat: Sendable, Hashable {
    /// 1 byte, 0 or 1.
    case bool
    /// Big-endian two's complement, 2 / 4 / 8 bytes.
    case int2, int4, int8
    /// Big-endian IEEE 754, 4 / 8 bytes.
    case float4, float8
    /// int16 ndigits, int16 weight, uint16 sign, int16 dscale, ndigits × int16 base-10000 digits.
    case numeric
    /// UTF-8 bytes (text, varchar, bpchar, name, enum cast to text, numeric cast to text).
    case text
    /// UTF-8 JSON text (json's wire format is its text).
    case json
    /// A version byte (1) then UTF-8 JSON text.
    case jsonb
    /// Raw bytes.
    case bytea
    /// int32 days since 2000-01-01.
    case date
    /// int64 microseconds since midnight.
    case time
    /// int64 microseconds since 2000-01-01 00:00 (a wall-clock reading).
    case timestamp
    /// int64 microseconds since 2000-01-01 00:00 UTC.
    case timestamptz
    /// 16 bytes.
    case uuid
    /// A one-dimensional array (written only): int32 ndim (1, or 0 when empty), int32 has-NULLs flag,
    /// uint32 element type OID, then int32 length and int32 lower bound (1), then each element as a
    /// field (int32 length, -1 for NULL, then its bytes in `element`'s format).
    case array(elementOID: UInt32, element: PostgresWireFormat)

    /// Whether values in this format decode into / encode from columns of `type`.
    public func accepts(_ type: LogicalType) -> Bool {
        switch (self, type) {
        case (.bool, .bool), (.int2, .int16), (.int4, .int32), (.int8, .int64),
            (.float4, .float32), (.float8, .float64), (.numeric, .decimal), (.numeric, .numeric), (.text, .numeric),
            (.text, .string), (.text, .json), (.json, .json), (.json, .string), (.jsonb, .json), (.jsonb, .string),
            (.bytea, .bytes), (.date, .date), (.time, .time),
            (.timestamp, .timestamp(withTimeZone: false)), (.timestamptz, .timestamp(withTimeZone: true)),
            (.uuid, .uuid), (.json, .list), (.jsonb, .list):
            return true
        case (.array(_, let element), .list(let type)):
            return element.accepts(type)
        default:
            return false
        }
    }

    /// The format a column of `type` is written in when the target column has dpone's default
    /// DDL type for it (`PostgresTypes.ddlType(for:)`): json is written as jsonb.
    public static func `default`(for type: LogicalType) -> PostgresWireFormat {
        switch type {
        case .bool: .bool
        case .int16: .int2
        case .int32: .int4
        case .int64: .int8
        case .float32: .float4
        case .float64: .float8
        case .decimal, .numeric: .numeric
        case .string: .text
        case .bytes: .bytea
        case .date: .date
        case .time: .time
        case .timestamp(let tz): tz ? .timestamptz : .timestamp
        case .uuid: .uuid
        case .json: .jsonb
        case .list(let element): .array(elementOID: PostgresTypes.oid(of: element), element: .default(for: element))
        }
    }
}

/// Constants of PostgreSQL's binary COPY format and its epochs.
public enum CopyBinaryFormat {
    /// `PGCOPY\n\377\r\n\0`: the 11-byte signature that opens every binary COPY stream.
    public static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]
    /// Signature, flags (0) and header extension length (0).
    public static let header: [UInt8] = signature + [0, 0, 0, 0, 0, 0, 0, 0]
    /// The field count -1 that ends the stream.
    public static let trailer: [UInt8] = [0xFF, 0xFF]
    /// Flags bit 16: an OID column precedes every tuple (WITH OIDS, not supported).
    static let hasOIDsFlag: UInt32 = 1 << 16

    /// Days from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
    public static let epochDayOffset: Int32 = 10_957
    /// Microseconds from 1970-01-01 to 2000-01-01.
    public static let epochMicrosOffset: Int64 = 946_684_800_000_000
}
