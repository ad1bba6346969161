import ClickHouseConnector
import Flow
import Testing

@Suite struct CodecNativeEncoderTests {
    static let legacyTypes = CodecGolden.encoderSchema.fields.map { ClickHouseTypes.ddlType(for: $0, support: .legacy) }
    static let modernTypes = CodecGolden.encoderSchema.fields.map { ClickHouseTypes.ddlType(for: $0, support: .modern) }

    @Test func encodesWhat1816SelectsByteForByte() throws {
        let encoder = try NativeEncoder(schema: CodecGolden.encoderSchema, targetTypes: Self.legacyTypes, support: .legacy)
        var out: [UInt8] = []
        try encoder.encode(CodecGolden.encoderBatch, into: &out)
        #expect(codecHex(out) == CodecGolden.encoderLegacy)
    }

    @Test func encodesWhatTheModernEngineSelectsByteForByte() throws {
        let encoder = try NativeEncoder(schema: CodecGolden.encoderSchema, targetTypes: Self.modernTypes)
        var out: [UInt8] = []
        try encoder.encode(CodecGolden.encoderBatch, into: &out)
        #expect(codecHex(out) == CodecGolden.encoderModern)
    }

    @Test func rowBinaryMatchesBothServers() throws {
        for (types, golden, support) in [
            (Self.legacyTypes, CodecGolden.rowBinaryLegacy, ClickHouseTypeSupport.legacy),
            (Self.modernTypes, CodecGolden.rowBinaryModern, .modern),
        ] {
            let encoder = try RowBinaryEncoder(schema: CodecGolden.encoderSchema, targetTypes: types, support: support)
            var out: [UInt8] = []
            try encoder.encode(CodecGolden.encoderBatch, into: &out)
            #expect(codecHex(out) == golden)
        }
    }

    @Test func roundTripsThroughTheDecoder() throws {
        let encoder = try NativeEncoder(schema: CodecGolden.encoderSchema, targetTypes: Self.modernTypes)
        var out: [UInt8] = []
        for _ in 0..<3 { try encoder.encode(CodecGolden.encoderBatch, into: &out) }
        let (schema, rows) = try codecDecodeRows(out, chunkSize: 7)
        #expect(rows.count == 6)
        // Modern DDL keeps every type but time and json (Strings) and reads timestamps as timestamptz.
        #expect(schema?.fields.map(\.type)[9] == .timestamp(withTimeZone: true))
        #expect(rows[2][0] == .bool(true))
        #expect(rows[3][7] == .null)
        #expect(rows[0][9] == CodecGolden.encoderRows[0][9])
        #expect(rows[0][10] == .uuid(CodecGolden.uuid))
        #expect(rows[5][12] == .string("00:00:00.000000"))
    }

    @Test func emptyBatchWritesNothing() throws {
        let encoder = try NativeEncoder(schema: CodecGolden.encoderSchema, targetTypes: Self.modernTypes)
        var out: [UInt8] = []
        try encoder.encode(codecBatch(CodecGolden.encoderSchema, []), into: &out)
        #expect(out.isEmpty)
    }

    @Test func writesLowCardinalityTargetsAsPlainColumns() throws {
        let schema = Schema([Field("s", .string, nullable: false)])
        let encoder = try NativeEncoder(schema: schema, targetTypes: [.lowCardinality(.string)])
        var out: [UInt8] = []
        try encoder.encode(codecBatch(schema, [[.string("ab")]]), into: &out)
        #expect(out == [1, 1, 1, UInt8(ascii: "s"), 6] + Array("String".utf8) + [2, UInt8(ascii: "a"), UInt8(ascii: "b")])
    }

    @Test func convertsIntoNarrowerAndOtherTargets() throws {
        let schema = Schema([
            Field("i", .int64, nullable: false), Field("u", .int32, nullable: false),
            Field("d", .decimal(precision: 5, scale: 1), nullable: false), Field("e", .string, nullable: false),
            Field("f", .string, nullable: false), Field("t", .timestamp(withTimeZone: true), nullable: false),
            Field("t3", .timestamp(withTimeZone: true), nullable: false), Field("t9", .timestamp(withTimeZone: false), nullable: false),
        ])
        let targets: [ClickHouseType] = [
            .int8, .uint16, .decimal(precision: 9, scale: 3), .enum8([.init("a", 1), .init("b", -2)]), .fixedString(3),
            .dateTime(timeZone: "UTC"), .dateTime64(precision: 3, timeZone: nil), .dateTime64(precision: 9, timeZone: nil),
        ]
        let encoder = try RowBinaryEncoder(schema: schema, targetTypes: targets)
        var out: [UInt8] = []
        try encoder.encode(
            codecBatch(schema, [[.int(-7), .int(65535), .decimal(-15, scale: 1), .string("b"), .string("xy"),
                .timestamp(86_400_000_000, withTimeZone: true), .timestamp(2_000, withTimeZone: true),
                .timestamp(-1, withTimeZone: false)]]),
            into: &out)
        let expected: [UInt8] =
            [0xF9] + [0xFF, 0xFF] + [0x24, 0xFA, 0xFF, 0xFF] + [0xFE] + [0x78, 0x79, 0] + [0x80, 0x51, 0x01, 0]
            + [2, 0, 0, 0, 0, 0, 0, 0] + [0x18, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(out == expected)
    }

    @Test(arguments: [
        (Field("x", .int32, nullable: false), ClickHouseType.int8, Value.int(128), "outside the range of Int8"),
        (Field("x", .int64, nullable: false), .uint32, .int(-1), "outside the range of UInt32"),
        (Field("x", .decimal(precision: 10, scale: 3), nullable: false), .decimal(precision: 9, scale: 2),
            .decimal(1005, scale: 3), "more fractional digits"),
        (Field("x", .decimal(precision: 12, scale: 0), nullable: false), .decimal(precision: 4, scale: 0),
            .decimal(12345, scale: 0), "more digits"),
        (Field("x", .date, nullable: false), .date, .date(-1), "outside the range of Date"),
        (Field("x", .date, nullable: false), .date32, .date(codecDays(2300, 1, 1)), "outside the range of Date32"),
        (Field("x", .timestamp(withTimeZone: true), nullable: false), .dateTime(timeZone: nil),
            .timestamp(1_500_000, withTimeZone: true), "fractional seconds"),
        (Field("x", .timestamp(withTimeZone: true), nullable: false), .dateTime(timeZone: nil),
            .timestamp(-1_000_000, withTimeZone: true), "outside DateTime's range"),
        (Field("x", .timestamp(withTimeZone: true), nullable: false), .dateTime64(precision: 3, timeZone: nil),
            .timestamp(1_001, withTimeZone: true), "finer than"),
        (Field("x", .timestamp(withTimeZone: true), nullable: false), .string,
            .timestamp(codecMicros(10000, 1, 1), withTimeZone: true), "year outside 0000...9999"),
        (Field("x", .string, nullable: false), .fixedString(2), .string("abc"), "longer than FixedString(2)"),
        (Field("x", .string, nullable: false), .enum8([.init("a", 1)]), .string("z"), "not a case of"),
        (Field("x", .int32), .int32, .null, "holds NULL"),
    ])
    func rejectsValuesItCannotWriteExactly(field: Field, target: ClickHouseType, value: Value, reason: String) throws {
        let schema = Schema([field])
        let encoder = try NativeEncoder(schema: schema, targetTypes: [target])
        var out: [UInt8] = []
        let error = #expect(throws: DponeError.self) { try encoder.encode(codecBatch(schema, [[value]]), into: &out) }
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        #expect(error?.context["column"] == "x")
    }

    /// numeric (exact decimal text) into Decimal(76, 20): a 32-byte little-endian integer at the
    /// scale; digits beyond it, more than 56 integer digits, NaN and infinities are errors naming
    /// the value (the server side is checked by the PG → ClickHouse pipeline tests).
    @Test func writesNumericAsDecimal256Exactly() throws {
        let schema = Schema([Field("n", .numeric, nullable: false)])
        let encoder = try NativeEncoder(schema: schema, targetTypes: [.decimal(precision: 76, scale: 20)])
        func encoded(_ text: String) throws -> [UInt8] {
            var out: [UInt8] = []
            try encoder.encode(codecBatch(schema, [[.string(text)]]), into: &out)
            return Array(out.suffix(32))
        }
        func littleEndian(_ v: Int128) -> [UInt8] {
            withUnsafeBytes(of: v.littleEndian) { Array($0) } + Array(repeating: v < 0 ? 0xFF : 0, count: 16)
        }
        #expect(try encoded("1.5") == littleEndian(150_000_000_000_000_000_000))
        #expect(try encoded("-1.50") == littleEndian(-150_000_000_000_000_000_000))
        #expect(try encoded("0") == littleEndian(0))
        // 10^55 at scale 20 is 10^75, which needs all four 64-bit words (Python: (10**75).to_bytes(32, 'little')).
        #expect(try encoded("1" + String(repeating: "0", count: 55)) == [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 232, 142, 190, 49, 42, 242, 139, 242, 80, 61, 151, 119, 120, 240, 179, 43, 130, 194,
            129, 221, 250, 53, 2,
        ])
        for (value, reason) in [("0." + String(repeating: "0", count: 20) + "1", "does not fit"), ("NaN", "NaN"),
                                ("1" + String(repeating: "0", count: 56), "does not fit")] {
            let error = #expect(throws: DponeError.self) { try encoded(value) }
            #expect(error?.message.contains(value) == true && error?.message.contains(reason) == true, "\(error?.message ?? "")")
        }
    }

    @Test func legacyDatesStopAt2106() throws {
        let schema = Schema([Field("day", .date, nullable: false)])
        let legacy = try NativeEncoder(schema: schema, targetTypes: [.date], support: .legacy)
        let modern = try NativeEncoder(schema: schema, targetTypes: [.date])
        let late = codecBatch(schema, [[.date(codecDays(2106, 2, 8))]])
        var out: [UInt8] = []
        #expect(throws: DponeError.self) { try legacy.encode(late, into: &out) }
        out.removeAll()
        try modern.encode(late, into: &out)
        #expect(Array(out.suffix(2)) == [0x2F, 0xC2])
        out.removeAll()
        try legacy.encode(codecBatch(schema, [[.date(codecDays(2106, 2, 7))]]), into: &out)
        #expect(Array(out.suffix(2)) == [0x2E, 0xC2])
    }

    @Test(arguments: [
        (LogicalType.string, ClickHouseType.int32), (.int64, .int32 /* fine */), (.float64, .float32), (.bool, .string),
        (.uuid, .fixedString(8)), (.date, .dateTime(timeZone: nil)), (.json, .array(.string)), (.int32, .unsupported("IPv4")),
        (.string, .decimal(precision: 60, scale: 2)),
    ])
    func rejectsIncompatibleTargetsUpFront(type: LogicalType, target: ClickHouseType) throws {
        let schema = Schema([Field("c", type)])
        if type == .int64 {
            _ = try NativeEncoder(schema: schema, targetTypes: [target])
            return
        }
        let error = #expect(throws: DponeError.self) { try NativeEncoder(schema: schema, targetTypes: [target]) }
        #expect(error?.kind == .schema)
        #expect(error?.context["column"] == "c")
    }
}
