import Flow
import PostgresConnector
import Testing

@Suite struct PostgresTypesTests {
    typealias T = PostgresTypes.CatalogType

    /// numeric(p,s) typmod as PostgreSQL stores it.
    func typmod(_ p: Int32, _ s: Int32) -> Int32 { ((p << 16) | (s & 0x7FF)) + 4 }

    @Test(arguments: [
        (UInt32(16), LogicalType.bool, PostgresWireFormat.bool),
        (21, .int16, .int2), (23, .int32, .int4), (20, .int64, .int8),
        (700, .float32, .float4), (701, .float64, .float8),
        (25, .string, .text), (1043, .string, .text), (1042, .string, .text),
        (1082, .date, .date), (1083, .time, .time),
        (1114, .timestamp(withTimeZone: false), .timestamp), (1184, .timestamp(withTimeZone: true), .timestamptz),
        (2950, .uuid, .uuid), (114, .json, .json), (3802, .json, .jsonb), (17, .bytes, .bytea),
    ])
    func mapsBuiltInTypes(oid: UInt32, type: LogicalType, wire: PostgresWireFormat) throws {
        let m = try PostgresTypes.mapColumn("c", T(oid: oid, displayName: "x"))
        #expect(m.type == type)
        #expect(m.wire == wire)
        #expect(m.selectExpression == "\"c\"")
        #expect(wire.accepts(type))
    }

    @Test func mapsNumericTypmods() throws {
        let m = try PostgresTypes.mapColumn("amount", T(oid: 1700, typmod: typmod(12, 2), displayName: "numeric(12,2)"))
        #expect(m.type == .decimal(precision: 12, scale: 2))
        #expect(m.wire == .numeric)
        #expect(PostgresTypes.decimalType(typmod: typmod(38, 38)) == .decimal(precision: 38, scale: 38))
        #expect(PostgresTypes.decimalType(typmod: typmod(5, -2)) == .decimal(precision: 7, scale: 0))
        #expect(PostgresTypes.decimalType(typmod: typmod(2, 5)) == .decimal(precision: 5, scale: 5))
        #expect(PostgresTypes.decimalType(typmod: typmod(39, 0)) == nil)
        #expect(PostgresTypes.decimalType(typmod: -1) == nil)
    }

    @Test func unboundedNumericIsExactByDefaultFailsOrReadsAsTextOnRequest() throws {
        let exact = try PostgresTypes.mapColumn("n", T(oid: 1700, typmod: -1, displayName: "numeric"))
        #expect(exact.type == .numeric)
        #expect(exact.wire == .text)
        #expect(exact.selectExpression == "\"n\"::text AS \"n\"")
        let wideExact = try PostgresTypes.mapColumn("w", T(oid: 1700, typmod: typmod(50, 2), displayName: "numeric(50,2)"))
        #expect(wideExact.type == .numeric)
        let fail = PostgresTypes.Policy(unboundedNumeric: .fail)
        let error = #expect(throws: DponeError.self) {
            try PostgresTypes.mapColumn("n", T(oid: 1700, typmod: -1, displayName: "numeric"), policy: fail)
        }
        #expect(error?.message.contains("\"n\"") == true)
        #expect(error?.context["type"] == "numeric")
        let wide = #expect(throws: DponeError.self) {
            try PostgresTypes.mapColumn("w", T(oid: 1700, typmod: typmod(50, 2), displayName: "numeric(50,2)"), policy: fail)
        }
        #expect(wide?.message.contains("numeric(50,2)") == true)
        let m = try PostgresTypes.mapColumn(
            "n", T(oid: 1700, typmod: -1, displayName: "numeric"), policy: .init(unboundedNumeric: .text))
        #expect(m.type == .string)
        #expect(m.wire == .text)
        #expect(m.selectExpression == "\"n\"::text AS \"n\"")
    }

    @Test func arraysOfScalarsAsListsOthersAsJSONAndEnumsAsText() throws {
        let array = try PostgresTypes.mapColumn("tags", T(oid: 1009, kind: "b", category: "A", displayName: "text[]", elementOID: 25))
        #expect(array.type == .list(.string))
        #expect(array.wire == .json)
        #expect(array.selectExpression == "array_to_json(\"tags\") AS \"tags\"")
        let money = try PostgresTypes.mapColumn(
            "m", T(oid: 1231, typmod: (12 << 16 | 2) + 4, kind: "b", category: "A", displayName: "numeric(12,2)[]", elementOID: 1700))
        #expect(money.type == .list(.decimal(precision: 12, scale: 2)))
        let moods = try PostgresTypes.mapColumn("ms", T(oid: 99_998, category: "A", displayName: "mood[]", elementOID: 99_999, elementKind: "e"))
        #expect(moods.type == .list(.string))
        let json = try PostgresTypes.mapColumn("js", T(oid: 3807, category: "A", displayName: "jsonb[]", elementOID: 3802))
        #expect(json.type == .json, "arrays of json are json")
        let unknown = try PostgresTypes.mapColumn("a", T(oid: 1009, kind: "b", category: "A", displayName: "text[]"))
        #expect(unknown.type == .json)
        #expect(PostgresTypes.ddlType(for: .list(.timestamp(withTimeZone: true))) == "timestamptz[]")
        #expect(LogicalType(parsing: "list<int32>") == .list(.int32))
        #expect(LogicalType(parsing: "list<list<int32>>") == nil)
        let e = try PostgresTypes.mapColumn("mood", T(oid: 99_999, kind: "e", category: "E", displayName: "mood"))
        #expect(e.type == .string)
        #expect(e.selectExpression == "\"mood\"::text AS \"mood\"")
    }

    @Test func unknownTypeNamesColumnAndType() {
        let error = #expect(throws: DponeError.self) {
            try PostgresTypes.mapColumn("price", T(oid: 790, displayName: "money"))
        }
        #expect(error?.kind == .schema)
        #expect(error?.message == "column \"price\" has PostgreSQL type money, which dpone cannot map")
        #expect(error?.context["column"] == "price")
    }

    @Test func ddlTypes() {
        #expect(PostgresTypes.ddlType(for: .decimal(precision: 18, scale: 4)) == "numeric(18,4)")
        #expect(PostgresTypes.ddlType(for: .timestamp(withTimeZone: true)) == "timestamptz")
        #expect(PostgresTypes.ddlType(for: .timestamp(withTimeZone: false)) == "timestamp")
        #expect(PostgresTypes.ddlType(for: .string) == "text")
        #expect(PostgresTypes.ddlType(for: .json) == "jsonb")
        #expect(PostgresTypes.ddlType(for: .bytes) == "bytea")
        #expect(PostgresTypes.ddlType(for: .uuid) == "uuid")
        #expect(PostgresTypes.ddlType(for: .int16) == "smallint")
        #expect(PostgresTypes.ddlType(for: .float64) == "double precision")
    }

    @Test func defaultWireFormatsRoundTripTheirTypes() {
        let types: [LogicalType] = [
            .bool, .int16, .int32, .int64, .float32, .float64, .decimal(precision: 10, scale: 2), .string, .bytes,
            .date, .time, .timestamp(withTimeZone: false), .timestamp(withTimeZone: true), .uuid, .json,
        ]
        for type in types { #expect(PostgresWireFormat.default(for: type).accepts(type)) }
        #expect(!PostgresWireFormat.timestamp.accepts(.timestamp(withTimeZone: true)))
        #expect(!PostgresWireFormat.int4.accepts(.int64))
    }
}
