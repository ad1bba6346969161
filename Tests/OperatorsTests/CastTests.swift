import Flow
import Testing

@testable import Operators

@Suite struct CastTests {
    func cast(_ input: [Value], from: LogicalType, to: LogicalType, allowLossy: Bool = false) throws -> [Value] {
        let batch = makeBatch([Field("c", from)], input.map { [$0] })
        let out = try Cast(columns: ["c": to], allowLossy: allowLossy).apply(batch)
        #expect(out.schema[0].type == to)
        return values(out, "c")
    }

    func castError(_ input: [Value], from: LogicalType, to: LogicalType) -> DponeError? {
        #expect(throws: DponeError.self) { try cast(input, from: from, to: to) }
    }

    func text(_ input: [Value], from: LogicalType) throws -> [String?] {
        try cast(input, from: from, to: .string).map { if case .string(let s) = $0 { s } else { nil } }
    }

    // MARK: numeric (exact decimal of any precision)

    @Test func castsToAndFromNumericExactly() throws {
        #expect(try cast([.string("+1.50"), .null, .string("NaN")], from: .string, to: .numeric)
            == [.string("1.50"), .null, .string("NaN")])
        #expect(try cast([.int(-42)], from: .int64, to: .numeric) == [.string("-42")])
        #expect(try cast([.decimal(12345, scale: 2)], from: .decimal(precision: 10, scale: 2), to: .numeric) == [.string("123.45")])
        #expect(try cast([.string("123.4500")], from: .numeric, to: .decimal(precision: 10, scale: 2)) == [.decimal(12345, scale: 2)])
        #expect(try cast([.string("2.5")], from: .numeric, to: .float64) == [.float(2.5)])
        let lost = castError([.string("1.005")], from: .numeric, to: .decimal(precision: 10, scale: 2))
        #expect(lost?.message.contains("1.005") == true)
        #expect(castError([.string("1e5")], from: .string, to: .numeric)?.message.contains("1e5") == true)
        #expect(Cast.supports(from: .numeric, to: .int64) == false)
    }

    // MARK: integers and floats

    @Test func widensAndNarrowsIntegers() throws {
        #expect(try cast([.int(-5), .null, .int(32767)], from: .int16, to: .int64) == [.int(-5), .null, .int(32767)])
        #expect(try cast([.int(-32768), .int(1)], from: .int64, to: .int16) == [.int(-32768), .int(1)])
        let error = castError([.int(1), .int(40000)], from: .int32, to: .int16)
        #expect(error?.kind == .cast)
        #expect(error?.message.contains("'c'") == true)
        #expect(error?.message.contains("row 1") == true)
        #expect(error?.message.contains("40000") == true)
        #expect(error?.context["row"] == "1")
    }

    @Test func lossyValuesBecomeNullWhenAllowed() throws {
        let batch = makeBatch([Field("c", .int64, nullable: false), Field("k", .string)], [[.int(1), .string("a")], [.int(1 << 40), .string("b")]])
        let castOp = Cast(columns: ["c": .int32], allowLossy: true)
        let out = try castOp.apply(batch)
        #expect(out.schema[0] == Field("c", .int32, nullable: true))
        #expect(out.schema[1] == batch.schema[1])
        #expect(values(out, "c") == [.int(1), .null])
        #expect(values(out, "k") == [.string("a"), .string("b")])
        let strict = try Cast(columns: ["c": .int64]).outputSchema(for: batch.schema)
        #expect(strict[0].nullable == false)
    }

    @Test func intToFloatMustBeExact() throws {
        #expect(try cast([.int(3), .int(-(1 << 53))], from: .int64, to: .float64) == [.float(3), .float(-9_007_199_254_740_992)])
        #expect(castError([.int((1 << 53) + 1)], from: .int64, to: .float64) != nil)
        #expect(castError([.int(16_777_217)], from: .int32, to: .float32) != nil)
    }

    @Test func floatToIntRejectsFractionsNaNAndOverflow() throws {
        #expect(try cast([.float(3.0), .float(-2)], from: .float64, to: .int32) == [.int(3), .int(-2)])
        #expect(castError([.float(1.5)], from: .float64, to: .int64)?.message.contains("1.5") == true)
        #expect(castError([.float(.nan)], from: .float64, to: .int64)?.message.contains("nan") == true)
        #expect(castError([.float(1e10)], from: .float32, to: .int32) != nil)
        #expect(try cast([.float(.nan), .float(2.5)], from: .float64, to: .int64, allowLossy: true) == [.null, .null])
    }

    @Test func floatWidths() throws {
        #expect(try cast([.float(0.5)], from: .float32, to: .float64) == [.float(0.5)])
        #expect(try cast([.float(0.1)], from: .float64, to: .float32) == [.float(Double(Float(0.1)))])
        #expect(castError([.float(1e300)], from: .float64, to: .float32) != nil)
        let infinite = try cast([.float(.infinity)], from: .float64, to: .float32)
        #expect(infinite == [.float(.infinity)])
    }

    // MARK: decimals

    @Test func rescalesDecimals() throws {
        let d2 = LogicalType.decimal(precision: 10, scale: 2)
        #expect(try cast([.decimal(12345, scale: 2)], from: d2, to: .decimal(precision: 12, scale: 4)) == [.decimal(1_234_500, scale: 4)])
        #expect(try cast([.decimal(12340, scale: 2)], from: d2, to: .decimal(precision: 10, scale: 1)) == [.decimal(1234, scale: 1)])
        #expect(castError([.decimal(12345, scale: 2)], from: d2, to: .decimal(precision: 10, scale: 1))?.message.contains("123.45") == true)
        #expect(castError([.decimal(12345, scale: 2)], from: d2, to: .decimal(precision: 4, scale: 2)) != nil)
    }

    @Test func integersAndDecimals() throws {
        let d = LogicalType.decimal(precision: 5, scale: 2)
        #expect(try cast([.int(-7), .int(999)], from: .int32, to: d) == [.decimal(-700, scale: 2), .decimal(99900, scale: 2)])
        #expect(castError([.int(1000)], from: .int32, to: d) != nil)
        #expect(try cast([.decimal(-700, scale: 2)], from: d, to: .int64) == [.int(-7)])
        #expect(castError([.decimal(-750, scale: 2)], from: d, to: .int64) != nil)
    }

    @Test func floatsAndDecimals() throws {
        let d = LogicalType.decimal(precision: 10, scale: 2)
        #expect(try cast([.float(0.1), .float(-12.5), .float(1e-20 * 0)], from: .float64, to: d)
            == [.decimal(10, scale: 2), .decimal(-1250, scale: 2), .decimal(0, scale: 2)])
        #expect(try cast([.float(0.1)], from: .float32, to: d) == [.decimal(10, scale: 2)])
        #expect(castError([.float(0.125)], from: .float64, to: d) != nil)
        #expect(castError([.float(.nan)], from: .float64, to: d) != nil)
        #expect(castError([.float(1e-5)], from: .float64, to: d) != nil)
        #expect(try cast([.float(1e5)], from: .float64, to: d) == [.decimal(10_000_000, scale: 2)])
        #expect(try cast([.decimal(10, scale: 2), .decimal(-123_456, scale: 2)], from: d, to: .float64) == [.float(0.1), .float(-1234.56)])
    }

    // MARK: to string

    @Test func canonicalTextOfNumbersAndBools() throws {
        #expect(try text([.int(-9_223_372_036_854_775_807 - 1), .int(0), .null], from: .int64) == ["-9223372036854775808", "0", nil])
        #expect(try text([.int(-32768)], from: .int16) == ["-32768"])
        #expect(try text([.float(0.1), .float(1), .float(1e-5), .float(.nan), .float(-0.0)], from: .float64)
            == ["0.1", "1.0", "1e-05", "nan", "-0.0"])
        #expect(try text([.float(Double(Float(0.1)))], from: .float32) == ["0.1"])
        #expect(try text([.decimal(-5, scale: 2), .decimal(12345, scale: 2), .decimal(0, scale: 2)], from: .decimal(precision: 10, scale: 2))
            == ["-0.05", "123.45", "0.00"])
        #expect(try text([.decimal(-42, scale: 0)], from: .decimal(precision: 10, scale: 0)) == ["-42"])
        #expect(try text([.bool(true), .bool(false)], from: .bool) == ["true", "false"])
    }

    @Test func canonicalTextOfTemporalTypesAndUUIDs() throws {
        #expect(try text([.date(0), .date(19782), .date(-719_162), .date(2_932_896)], from: .date)
            == ["1970-01-01", "2024-02-29", "0001-01-01", "9999-12-31"])
        // Shared canonical text (Flow.ScalarFormatting): the fraction only when non-zero, as the file sinks write it.
        #expect(try text([.time(0), .time(45_296_000_007)], from: .time) == ["00:00:00", "12:34:56.000007"])
        let ts: Int64 = 1_709_210_096_123_456  // 2024-02-29T12:34:56.123456Z
        #expect(try text([.timestamp(ts, withTimeZone: true)], from: .timestamp(withTimeZone: true)) == ["2024-02-29T12:34:56.123456Z"])
        #expect(try text([.timestamp(ts, withTimeZone: false)], from: .timestamp(withTimeZone: false)) == ["2024-02-29T12:34:56.123456"])
        #expect(try text([.timestamp(-1, withTimeZone: true)], from: .timestamp(withTimeZone: true)) == ["1969-12-31T23:59:59.999999Z"])
        let uuid: [UInt8] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF]
        #expect(try text([.uuid(uuid)], from: .uuid) == ["00112233-4455-6677-8899-aabbccddeeff"])
        #expect(try text([.json("{\"a\":1}")], from: .json) == ["{\"a\":1}"])
        #expect(try text([.bytes(Array("hé".utf8))], from: .bytes) == ["hé"])
        #expect(castError([.bytes([0xFF, 0xFE])], from: .bytes, to: .string) != nil)
    }

    // MARK: from string

    @Test func parsesNumbers() throws {
        #expect(try cast([.string("42"), .string("-7"), .string("+3"), .null], from: .string, to: .int64) == [.int(42), .int(-7), .int(3), .null])
        #expect(castError([.string("1"), .string("4.0")], from: .string, to: .int32)?.message.contains("'4.0'") == true)
        #expect(castError([.string("99999")], from: .string, to: .int16) != nil)
        #expect(castError([.string(" 1")], from: .string, to: .int64) != nil)
        #expect(try cast([.string("1.5"), .string("-2e3")], from: .string, to: .float64) == [.float(1.5), .float(-2000)])
        #expect(castError([.string("abc")], from: .string, to: .float64) != nil)
        let d = LogicalType.decimal(precision: 10, scale: 2)
        #expect(try cast([.string("12.3"), .string("-0.05"), .string("1.500"), .string("7"), .string("1.5e2"), .string(".5")], from: .string, to: d)
            == [.decimal(1230, scale: 2), .decimal(-5, scale: 2), .decimal(150, scale: 2), .decimal(700, scale: 2),
                .decimal(15000, scale: 2), .decimal(50, scale: 2)])
        #expect(castError([.string("1.505")], from: .string, to: d) != nil)
        #expect(castError([.string("123456789.00")], from: .string, to: d) != nil)
        #expect(castError([.string("1.2.3")], from: .string, to: d) != nil)
    }

    @Test func parsesBoolsDatesTimesAndUUIDs() throws {
        #expect(try cast([.string("true"), .string("F"), .string("t"), .string("0")], from: .string, to: .bool)
            == [.bool(true), .bool(false), .bool(true), .bool(false)])
        // Shared grammar (Flow.ScalarParsing): true/false/t/f/1/0 only, as the file codecs read them.
        #expect(castError([.string("maybe")], from: .string, to: .bool) != nil)
        #expect(castError([.string("yes")], from: .string, to: .bool) != nil)
        #expect(try cast([.string("2024-02-29"), .string("1969-12-31")], from: .string, to: .date) == [.date(19782), .date(-1)])
        #expect(castError([.string("2023-02-29")], from: .string, to: .date) != nil)
        #expect(castError([.string("2024-13-01")], from: .string, to: .date) != nil)
        #expect(try cast([.string("12:34:56.5"), .string("00:00:00")], from: .string, to: .time) == [.time(45_296_500_000), .time(0)])
        #expect(castError([.string("24:00:00")], from: .string, to: .time) != nil)
        #expect(try cast([.string("00112233-4455-6677-8899-AABBCCDDEEFF"), .string("00112233445566778899aabbccddeeff")], from: .string, to: .uuid)
            == Array(repeating: .uuid([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF]), count: 2))
        #expect(castError([.string("00112233-4455-6677-8899-aabbccddeefg")], from: .string, to: .uuid) != nil)
    }

    @Test func parsesTimestamps() throws {
        let tz = LogicalType.timestamp(withTimeZone: true)
        let midnight: Int64 = 19782 * 86_400_000_000
        let parsed = try cast([
            .string("2024-02-29T00:00:00Z"), .string("2024-02-29 01:00:00+01:00"), .string("2024-02-28T19:00:00-0500"),
            .string("2024-02-29"), .string("2024-02-29T00:00:00.000001"), .string("2024-02-29T00:00:00.123456000Z"),
        ], from: .string, to: tz)
        #expect(parsed == [midnight, midnight, midnight, midnight, midnight + 1, midnight + 123_456].map { .timestamp($0, withTimeZone: true) })
        #expect(castError([.string("2024-02-29T00:00:00.1234567Z")], from: .string, to: tz) != nil)
        #expect(castError([.string("2024-02-29T25:00:00")], from: .string, to: tz) != nil)
        #expect(castError([.string("yesterday")], from: .string, to: .timestamp(withTimeZone: false)) != nil)
    }

    @Test func textRoundTripsThroughEveryParsableType() throws {
        let cases: [(LogicalType, [Value])] = [
            (.int64, [.int(.min), .int(.max), .int(0)]),
            (.float64, [.float(0.1), .float(-1e-300), .float(123_456.789)]),
            (.decimal(precision: 38, scale: 10), [.decimal(Int128(-123_456_789_012_345), scale: 10)]),
            (.date, [.date(-719_162), .date(2_932_896)] + (0..<3000).map { .date(Int32($0 * 7 - 10_000)) }),
            (.time, [.time(86_399_999_999), .time(1)]),
            (.timestamp(withTimeZone: true), [.timestamp(-62_135_596_800_000_000, withTimeZone: true), .timestamp(253_402_300_799_999_999, withTimeZone: true)]),
            (.bool, [.bool(true), .bool(false)]),
        ]
        for (type, input) in cases {
            let asText = try cast(input, from: type, to: .string)
            #expect(try cast(asText, from: .string, to: type) == input, "round trip of \(type)")
        }
    }

    // MARK: temporal

    @Test func timestampsAndDates() throws {
        #expect(try cast([.timestamp(5, withTimeZone: false)], from: .timestamp(withTimeZone: false), to: .timestamp(withTimeZone: true))
            == [.timestamp(5, withTimeZone: true)])
        #expect(try cast([.timestamp(5, withTimeZone: true)], from: .timestamp(withTimeZone: true), to: .timestamp(withTimeZone: false))
            == [.timestamp(5, withTimeZone: false)])
        #expect(try cast([.date(1), .date(-1)], from: .date, to: .timestamp(withTimeZone: true))
            == [.timestamp(86_400_000_000, withTimeZone: true), .timestamp(-86_400_000_000, withTimeZone: true)])
    }

    // MARK: schema

    @Test func schemaErrors() {
        let schema = Schema([Field("a", .bool), Field("b", .int64)])
        let unknown = #expect(throws: DponeError.self) { try Cast(columns: ["zz": .string]).outputSchema(for: schema) }
        #expect(unknown?.kind == .schema)
        #expect(unknown?.message.contains("'zz'") == true)
        #expect(unknown?.message.contains("a, b") == true)
        let unsupported = #expect(throws: DponeError.self) { try Cast(columns: ["a": .date]).outputSchema(for: schema) }
        #expect(unsupported?.kind == .schema)
        #expect(unsupported?.message.contains("bool") == true)
        #expect(!Cast.supports(from: .string, to: .json))
        #expect(Cast.supports(from: .uuid, to: .string))
    }

    @Test func everySupportedPairHasAKernel() throws {
        let types: [LogicalType] = allTypeFields.map(\.type) + [.timestamp(withTimeZone: false)]
        for from in types {
            let batch = makeBatch([Field("c", from)], [[.null]])
            for to in types where Cast.supports(from: from, to: to) {
                let out = try Cast(columns: ["c": to]).apply(batch)
                #expect(values(out, "c") == [.null], "\(from) -> \(to)")
            }
        }
    }

    @Test func keepsOperationsAndOtherColumns() throws {
        let batch = makeBatch([Field("a", .int32), Field("b", .string)], [[.int(1), .string("x")]], operations: [.delete])
        let out = try Cast(columns: ["a": .string]).apply(batch)
        #expect(rows(out) == [[.string("1"), .string("x")]])
        #expect(out.operations == [.delete])
    }
}
