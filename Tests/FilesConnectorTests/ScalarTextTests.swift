import Flow
import Testing

@testable import FilesConnector

@Suite struct ScalarTextTests {
    func parse<T>(_ text: String, _ f: (UnsafeRawBufferPointer) -> T?) -> T? {
        Array(text.utf8).withUnsafeBytes { f($0) }
    }

    @Test func integersAreRangeChecked() {
        #expect(parse("42", ScalarText.int64) == 42)
        #expect(parse("-9223372036854775808", ScalarText.int64) == Int64.min)
        #expect(parse("9223372036854775807", ScalarText.int64) == Int64.max)
        #expect(parse("9223372036854775808", ScalarText.int64) == nil)
        #expect(parse("+7", ScalarText.int64) == 7)
        #expect(parse("1.0", ScalarText.int64) == nil)
        #expect(parse("", ScalarText.int64) == nil)
        #expect(parse("-", ScalarText.int64) == nil)
    }

    @Test func floatsAreCorrectlyRounded() {
        for text in ["0.1", "1e-05", "123.456", "1.7976931348623157e+308", "5e-324", "0.30000000000000004", "-0.0",
                     "2.2250738585072014e-308", "9007199254740993", "1e23"] {
            #expect(parse(text, ScalarText.double) == Double(text), "\(text)")
        }
        #expect(parse("nan", ScalarText.double)?.isNaN == true)
        #expect(parse("-inf", ScalarText.double) == -.infinity)
        #expect(parse("Infinity", ScalarText.double) == .infinity)
        #expect(parse("1e", ScalarText.double) == nil)
        #expect(parse("1.2.3", ScalarText.double) == nil)
        #expect(parse("0x10", ScalarText.double) == nil)
        #expect(parse("3.4028235e+38", ScalarText.float) == Float.greatestFiniteMagnitude)
        #expect(parse("0.1", ScalarText.float) == Float(0.1))
    }

    @Test func decimalsAreExactAndBounded() {
        #expect(parse("123.45", { ScalarText.decimal($0, precision: 10, scale: 2) }) == 12345)
        #expect(parse("-0.5", { ScalarText.decimal($0, precision: 10, scale: 2) }) == -50)
        #expect(parse("7", { ScalarText.decimal($0, precision: 10, scale: 2) }) == 700)
        #expect(parse("1.230", { ScalarText.decimal($0, precision: 10, scale: 2) }) == 123)
        #expect(parse("1.235", { ScalarText.decimal($0, precision: 10, scale: 2) }) == nil)
        #expect(parse("123456789", { ScalarText.decimal($0, precision: 10, scale: 2) }) == nil)
        let big = "12345678901234567890123456789012345678"
        #expect(parse(big, { ScalarText.decimal($0, precision: 38, scale: 0) }) == Int128(big))
    }

    @Test func boolsAcceptTheUsualSpellings() {
        for t in ["true", "TRUE", "t", "T", "1"] { #expect(parse(t, ScalarText.bool) == true) }
        for f in ["false", "False", "f", "F", "0"] { #expect(parse(f, ScalarText.bool) == false) }
        #expect(parse("yes", ScalarText.bool) == nil)
        #expect(parse("2", ScalarText.bool) == nil)
    }

    @Test func temporalValues() {
        #expect(parse("1970-01-01", ScalarText.date) == 0)
        #expect(parse("2000-03-01", ScalarText.date) == 11_017)
        #expect(parse("1969-12-31", ScalarText.date) == -1)
        #expect(parse("2023-02-29", ScalarText.date) == nil)
        #expect(parse("2024-02-29", ScalarText.date) == 19_782)
        #expect(parse("12:34:56.789", ScalarText.time) == 45_296_789_000)
        #expect(parse("12:34", ScalarText.time) == 45_240_000_000)
        #expect(parse("24:00:00", ScalarText.time) == nil)
        #expect(parse("00:00:00.0000001", ScalarText.time) == nil)
        let utc = parse("2024-01-02T03:04:05.000006Z") { ScalarText.timestamp($0) }
        #expect(utc?.micros == 1_704_164_645_000_006 && utc?.hasZone == true)
        let plus2 = parse("2024-01-02 05:04:05.000006+02:00") { ScalarText.timestamp($0) }
        #expect(plus2?.micros == 1_704_164_645_000_006)
        let naive = parse("2024-01-02 03:04:05") { ScalarText.timestamp($0) }
        #expect(naive?.micros == 1_704_164_645_000_000 && naive?.hasZone == false)
        #expect(parse("2024-01-02") { ScalarText.timestamp($0, requireTime: true) } == nil)
        #expect(parse("2024-01-02X03:04:05") { ScalarText.timestamp($0) } == nil)
    }

    @Test func formattingRoundTripsThroughParsing() {
        var out: [UInt8] = []
        ScalarTextFormat.appendDecimal(-5, scale: 3, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "-0.005")
        out = []
        ScalarTextFormat.appendTimestamp(micros: -1, withTimeZone: true, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "1969-12-31T23:59:59.999999Z")
        #expect(parse(String(decoding: out, as: UTF8.self)) { ScalarText.timestamp($0) }?.micros == -1)
        for days: Int32 in [-719_162, -1, 0, 1, 11_016, 2_932_896] {
            out = []
            ScalarTextFormat.appendDate(days: days, to: &out)
            #expect(parse(String(decoding: out, as: UTF8.self), ScalarText.date) == days)
        }
        out = []
        ScalarTextFormat.appendInt(Int64.min, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "-9223372036854775808")
    }
}
