import Flow

/// The one mapping between PostgreSQL types and Flow's logical types, both directions.
///
/// Reading (catalog type → `LogicalType` + wire format + SELECT expression), by OID:
///
/// | PostgreSQL | LogicalType | notes |
/// | --- | --- | --- |
/// | bool | bool | |
/// | int2 / int4 / int8 | int16 / int32 / int64 | |
/// | float4 / float8 | float32 / float64 | NaN and ±Infinity kept |
/// | numeric(p,s) | decimal(p,s) | exact; s > p gives decimal(s,s); s < 0 gives decimal(p-s,0) |
/// | numeric, numeric(p>38) | numeric (exact text, read as `col::text`); string with `.text`; an error with `.fail` | |
/// | text, varchar(n), bpchar(n) | string | bpchar keeps its padding |
/// | date / time / timestamp / timestamptz | date / time / timestamp / timestamptz | ±infinity and 24:00 are decode errors |
/// | uuid | uuid | |
/// | json / jsonb | json | jsonb read in its binary form (version byte + text) |
/// | bytea | bytes | |
/// | an array of a type above (`T[]`), or of an enum | list(T) | read as `array_to_json(col)`; one dimension |
/// | any other array | json | read as `array_to_json(col)` |
/// | any enum | string | read as `col::text` |
/// | a domain | its base type's mapping | one level of domain |
///
/// Anything else (money, interval, timetz, inet, point, xml, composite, range...) is an error that
/// names the column and the type; the fix is to cast it in the source query.
///
/// Writing (`ddlType(for:)`): bool, smallint, integer, bigint, real, double precision,
/// numeric(p,s), numeric, text, bytea, T[] for list(T), date, time, timestamp, timestamptz, uuid, jsonb.
public enum PostgresTypes {
    /// What to do with types that have no exact mapping.
    public struct Policy: Sendable, Hashable {
        public enum UnboundedNumeric: Sendable, Hashable {
            /// Read the value exactly into a `numeric` column (default): any precision, NaN and
            /// ±Infinity kept, mapped per sink to its widest exact type.
            case exact
            /// Fail with an error naming the column: a decimal needs a precision ≤ 38.
            case fail
            /// Read the value as text (`col::text`) into a string column: exact, but no longer numeric.
            case text
        }

        public var unboundedNumeric: UnboundedNumeric

        public init(unboundedNumeric: UnboundedNumeric = .exact) {
            self.unboundedNumeric = unboundedNumeric
        }

        public static let strict = Policy()
    }

    /// A built-in type with a fixed mapping.
    struct Entry: Sendable {
        let oid: UInt32
        let name: String
        let logical: LogicalType
        let wire: PostgresWireFormat
    }

    static let numericOID: UInt32 = 1700

    /// The table. `numeric` (OID 1700) is listed for its wire format; its logical type comes from the typmod.
    static let entries: [Entry] = [
        Entry(oid: 16, name: "bool", logical: .bool, wire: .bool),
        Entry(oid: 17, name: "bytea", logical: .bytes, wire: .bytea),
        Entry(oid: 20, name: "int8", logical: .int64, wire: .int8),
        Entry(oid: 21, name: "int2", logical: .int16, wire: .int2),
        Entry(oid: 23, name: "int4", logical: .int32, wire: .int4),
        Entry(oid: 25, name: "text", logical: .string, wire: .text),
        Entry(oid: 114, name: "json", logical: .json, wire: .json),
        Entry(oid: 700, name: "float4", logical: .float32, wire: .float4),
        Entry(oid: 701, name: "float8", logical: .float64, wire: .float8),
        Entry(oid: 1042, name: "bpchar", logical: .string, wire: .text),
        Entry(oid: 1043, name: "varchar", logical: .string, wire: .text),
        Entry(oid: 1082, name: "date", logical: .date, wire: .date),
        Entry(oid: 1083, name: "time", logical: .time, wire: .time),
        Entry(oid: 1114, name: "timestamp", logical: .timestamp(withTimeZone: false), wire: .timestamp),
        Entry(oid: 1184, name: "timestamptz", logical: .timestamp(withTimeZone: true), wire: .timestamptz),
        Entry(oid: numericOID, name: "numeric", logical: .decimal(precision: 38, scale: 0), wire: .numeric),
        Entry(oid: 2950, name: "uuid", logical: .uuid, wire: .uuid),
        Entry(oid: 3802, name: "jsonb", logical: .json, wire: .jsonb),
    ]

    static let byOID: [UInt32: Entry] = Dictionary(uniqueKeysWithValues: entries.map { ($0.oid, $0) })

    /// How one column is read: its logical type, wire format and the expression that selects it.
    public struct ColumnMapping: Sendable, Hashable {
        public let type: LogicalType
        public let wire: PostgresWireFormat
        /// `"col"`, or a cast aliased back to the column's name (`"col"::text AS "col"`).
        public let selectExpression: String
    }

    /// A catalog type as `mapColumn` needs it (after resolving a domain to its base type).
    public struct CatalogType: Sendable, Hashable {
        public var oid: UInt32
        /// `atttypmod` (-1 when none).
        public var typmod: Int32
        /// `pg_type.typtype`: `b` base, `e` enum, `d` domain, `c` composite, `r` range, `p` pseudo...
        public var kind: Character
        /// `pg_type.typcategory`: `A` for arrays.
        public var category: Character
        /// `format_type(oid, typmod)` of the column as declared, for messages.
        public var displayName: String
        /// For an array: its element type's OID and `typtype` (0 and `b` when unknown).
        public var elementOID: UInt32
        public var elementKind: Character

        public init(
            oid: UInt32, typmod: Int32 = -1, kind: Character = "b", category: Character = "U", displayName: String,
            elementOID: UInt32 = 0, elementKind: Character = "b"
        ) {
            self.oid = oid
            self.typmod = typmod
            self.kind = kind
            self.category = category
            self.displayName = displayName
            self.elementOID = elementOID
            self.elementKind = elementKind
        }
    }

    /// Maps the column `name` of PostgreSQL type `type`.
    /// - Throws: `DponeError(.schema)` naming the column and the type when there is no mapping.
    public static func mapColumn(_ name: String, _ type: CatalogType, policy: Policy = .strict) throws -> ColumnMapping {
        let quoted = PostgresSQL.quoteIdentifier(name)
        if type.category == "A" {
            // Arrays of scalars are lists; arrays of anything else (json, composites, ranges...) json.
            let element = listElement(type, policy: policy)
            return ColumnMapping(
                type: element.map { .list($0) } ?? .json, wire: .json, selectExpression: "array_to_json(\(quoted)) AS \(quoted)")
        }
        if type.kind == "e" {
            return ColumnMapping(type: .string, wire: .text, selectExpression: "\(quoted)::text AS \(quoted)")
        }
        guard let entry = byOID[type.oid] else {
            throw DponeError(
                .schema, "column \"\(name)\" has PostgreSQL type \(type.displayName), which dpone cannot map",
                hint: "select it with a cast to a supported type (e.g. \(quoted)::text)",
                context: ["column": name, "type": type.displayName])
        }
        guard entry.oid == numericOID else {
            return ColumnMapping(type: entry.logical, wire: entry.wire, selectExpression: quoted)
        }
        if let decimal = decimalType(typmod: type.typmod) {
            return ColumnMapping(type: decimal, wire: .numeric, selectExpression: quoted)
        }
        switch policy.unboundedNumeric {
        case .exact:
            return ColumnMapping(type: .numeric, wire: .text, selectExpression: "\(quoted)::text AS \(quoted)")
        case .text:
            return ColumnMapping(type: .string, wire: .text, selectExpression: "\(quoted)::text AS \(quoted)")
        case .fail:
            throw DponeError(
                .schema,
                "column \"\(name)\" is \(type.displayName): a decimal needs a precision of at most "
                    + "\(LogicalType.maxDecimalPrecision) digits",
                hint: "declare it numeric(p,s) with p ≤ 38, cast it in the source query, or read unbounded numerics as text",
                context: ["column": name, "type": type.displayName])
        }
    }

    /// The list element type of an array column, nil when its elements are not scalars dpone maps.
    static func listElement(_ array: CatalogType, policy: Policy) -> LogicalType? {
        if array.elementKind == "e" { return .string }
        guard let entry = byOID[array.elementOID] else { return nil }
        if entry.oid == numericOID {
            if let decimal = decimalType(typmod: array.typmod) { return decimal }
            return policy.unboundedNumeric == .exact ? .numeric : nil
        }
        return entry.logical.isListElement ? entry.logical : nil
    }

    /// decimal(p,s) for a numeric typmod, nil when unconstrained or wider than 38 digits.
    /// PostgreSQL stores `((p << 16) | (s & 0x7ff)) + 4`, s an 11-bit signed value (-1000...1000).
    public static func decimalType(typmod: Int32) -> LogicalType? {
        guard typmod >= 4 else { return nil }
        let packed = typmod - 4
        let precision = Int((packed >> 16) & 0xFFFF)
        let scale = Int(((packed & 0x7FF) ^ 1024) - 1024)
        let p = scale < 0 ? precision - scale : max(precision, scale)
        let s = max(scale, 0)
        guard p >= 1, p <= LogicalType.maxDecimalPrecision else { return nil }
        return .decimal(precision: p, scale: s)
    }

    /// The OID of the type `ddlType(for:)` creates for `type` (array elements name it on the wire).
    public static func oid(of type: LogicalType) -> UInt32 {
        switch type {
        case .bool: 16
        case .int16: 21
        case .int32: 23
        case .int64: 20
        case .float32: 700
        case .float64: 701
        case .decimal, .numeric: numericOID
        case .string: 25
        case .bytes: 17
        case .date: 1082
        case .time: 1083
        case .timestamp(let tz): tz ? 1184 : 1114
        case .uuid: 2950
        case .json: 3802
        case .list: 0  // no arrays of arrays: LogicalType.isListElement
        }
    }

    /// The column type dpone creates for `type` (target tables, staging tables).
    public static func ddlType(for type: LogicalType) -> String {
        switch type {
        case .bool: "boolean"
        case .int16: "smallint"
        case .int32: "integer"
        case .int64: "bigint"
        case .float32: "real"
        case .float64: "double precision"
        case .decimal(let p, let s): "numeric(\(p),\(s))"
        case .numeric: "numeric"
        case .string: "text"
        case .bytes: "bytea"
        case .date: "date"
        case .time: "time"
        case .timestamp(let tz): tz ? "timestamptz" : "timestamp"
        case .uuid: "uuid"
        case .json: "jsonb"
        case .list(let element): ddlType(for: element) + "[]"
        }
    }
}
