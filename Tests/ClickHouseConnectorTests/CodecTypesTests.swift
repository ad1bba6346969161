import ClickHouseConnector
import Flow
import Testing

@Suite struct CodecTypesTests {
    @Test(arguments: [
        ("Int8", ClickHouseType.int8), ("UInt64", .uint64), ("Float32", .float32), ("String", .string), ("UUID", .uuid),
        ("Date", .date), ("Date32", .date32), ("Bool", .bool), ("DateTime", .dateTime(timeZone: nil)),
        ("DateTime('Europe/Moscow')", .dateTime(timeZone: "Europe/Moscow")),
        ("DateTime64(3)", .dateTime64(precision: 3, timeZone: nil)),
        ("DateTime64(6, 'UTC')", .dateTime64(precision: 6, timeZone: "UTC")),
        ("Decimal(10, 2)", .decimal(precision: 10, scale: 2)), ("Decimal(10,2)", .decimal(precision: 10, scale: 2)),
        ("Decimal32(3)", .decimal(precision: 9, scale: 3)), ("Decimal64(4)", .decimal(precision: 18, scale: 4)),
        ("Decimal128(6)", .decimal(precision: 38, scale: 6)), ("FixedString(16)", .fixedString(16)),
        ("Nullable(Int32)", .nullable(.int32)), ("LowCardinality(String)", .lowCardinality(.string)),
        ("LowCardinality(Nullable(String))", .lowCardinality(.nullable(.string))),
        ("Array(Array(Nullable(String)))", .array(.array(.nullable(.string)))),
        ("Enum8('a' = 1, 'b\\'c' = -2)", .enum8([.init("a", 1), .init("b'c", -2)])),
        ("Enum16('x' = -1000)", .enum16([.init("x", -1000)])),
        ("IPv4", .unsupported("IPv4")), ("Map(String, UInt64)", .unsupported("Map(String, UInt64)")),
        ("Nullable(Nothing)", .nullable(.unsupported("Nothing"))),
    ])
    func parsesTypeNames(text: String, type: ClickHouseType) {
        #expect(ClickHouseType(parsing: text) == type)
    }

    @Test(arguments: ["", "Nullable(", "Decimal(2, 3)", "FixedString(0)", "Enum8('a' = 300)", "Array()", "Int32)", "DateTime64(10)"])
    func rejectsMalformedNames(text: String) {
        #expect(ClickHouseType(parsing: text) == nil)
    }

    @Test func canonicalNamesRoundTrip() {
        for text in [
            "Decimal(10, 2)", "DateTime64(6, 'UTC')", "DateTime('UTC')", "Enum8('a' = 1, 'b\\'c' = -2)",
            "LowCardinality(Nullable(String))", "Array(Nullable(Int32))", "FixedString(4)",
        ] {
            #expect(ClickHouseType(parsing: text)?.name == text)
        }
        #expect(ClickHouseType.lowCardinality(.nullable(.string)).withoutLowCardinality.name == "Nullable(String)")
    }

    @Test(arguments: [
        ("Int8", LogicalType.int16, false), ("Int16", .int16, false), ("Int32", .int32, false), ("Int64", .int64, false),
        ("UInt8", .int32, false), ("UInt16", .int32, false), ("UInt32", .int64, false),
        ("UInt64", .decimal(precision: 20, scale: 0), false), ("Float32", .float32, false), ("Float64", .float64, false),
        ("Decimal(38, 10)", .decimal(precision: 38, scale: 10), false), ("String", .string, false),
        ("FixedString(3)", .string, false), ("UUID", .uuid, false), ("Date", .date, false), ("Date32", .date, false),
        ("DateTime('UTC')", .timestamp(withTimeZone: true), false), ("DateTime64(3)", .timestamp(withTimeZone: true), false),
        ("Bool", .bool, false), ("Enum8('a' = 1)", .string, false), ("Array(Int32)", .json, false),
        ("LowCardinality(String)", .string, false), ("LowCardinality(Nullable(String))", .string, true),
        ("Nullable(Decimal(9, 2))", .decimal(precision: 9, scale: 2), true),
    ])
    func mapsToFlowTypes(text: String, type: LogicalType, nullable: Bool) throws {
        let field = try ClickHouseTypes.field(name: "c", type: #require(ClickHouseType(parsing: text)))
        #expect(field == Field("c", type, nullable: nullable))
    }

    @Test(arguments: [
        "Int128", "UInt256", "IPv6", "Map(String, String)", "Tuple(Int8, String)", "Decimal256(2)", "DateTime64(9)",
        "LowCardinality(UInt32)", "Array(LowCardinality(String))", "Array(IPv4)", "Nullable(Nothing)",
    ])
    func refusesTypesWithoutALosslessMapping(text: String) throws {
        let type = try #require(ClickHouseType(parsing: text))
        let error = #expect(throws: DponeError.self) { try ClickHouseTypes.field(name: "weird", type: type) }
        #expect(error?.kind == .schema)
        #expect(error?.context["column"] == "weird")
        #expect(error?.message.contains("weird") == true)
    }

    @Test func policiesOpenNanosecondsAndCloseUInt64() throws {
        let ns = ClickHouseType.dateTime64(precision: 9, timeZone: nil)
        for policy in [ClickHouseTypePolicy.SubMicrosecond.requireWholeMicroseconds, .truncate] {
            #expect(try ClickHouseTypes.logicalType(of: ns, column: "t", policy: .init(subMicrosecond: policy)) == .timestamp(withTimeZone: true))
        }
        #expect(throws: DponeError.self) { try ClickHouseTypes.logicalType(of: .uint64, column: "u", policy: .init(uint64: .reject)) }
    }

    @Test func ddlTypesFollowServerSupport() {
        let all: [(LogicalType, String, String)] = [
            (.bool, "Bool", "UInt8"), (.int16, "Int16", "Int16"), (.int32, "Int32", "Int32"), (.int64, "Int64", "Int64"),
            (.float32, "Float32", "Float32"), (.float64, "Float64", "Float64"),
            (.decimal(precision: 12, scale: 2), "Decimal(12, 2)", "Decimal(12, 2)"), (.string, "String", "String"),
            (.bytes, "String", "String"), (.json, "String", "String"), (.time, "String", "String"),
            (.date, "Date32", "Date"), (.timestamp(withTimeZone: true), "DateTime64(6, 'UTC')", "String"),
            (.timestamp(withTimeZone: false), "DateTime64(6, 'UTC')", "String"), (.uuid, "UUID", "UUID"),
        ]
        for (type, modern, legacy) in all {
            #expect(ClickHouseTypes.ddlType(for: type, nullable: false, support: .modern).name == modern)
            #expect(ClickHouseTypes.ddlType(for: type, nullable: false, support: .legacy).name == legacy)
            #expect(ClickHouseTypes.ddlType(for: type, nullable: true, support: .legacy).name == "Nullable(\(legacy))")
        }
        let middle = ClickHouseTypeSupport(supportsDateTime64: true, supportsBool: false)
        #expect(ClickHouseTypes.ddlType(for: .timestamp(withTimeZone: true), nullable: false, support: middle).name == "DateTime64(6, 'UTC')")
        #expect(ClickHouseTypes.ddlType(for: .date, nullable: false, support: middle) == .date)
    }

    @Test func fixedWidthTimestampText() {
        var out: [UInt8] = []
        #expect(ClickHouseText.appendTimestamp(micros: codecMicros(2024, 3, 10, 9, 30, 0, 5), to: &out))
        #expect(String(decoding: out, as: UTF8.self) == "2024-03-10 09:30:00.000005")
        out.removeAll()
        #expect(ClickHouseText.appendTimestamp(micros: -1, to: &out))
        #expect(String(decoding: out, as: UTF8.self) == "1969-12-31 23:59:59.999999")
        out.removeAll()
        #expect(!ClickHouseText.appendTimestamp(micros: codecMicros(-1, 12, 31), to: &out))
        #expect(out.isEmpty)
    }
}
