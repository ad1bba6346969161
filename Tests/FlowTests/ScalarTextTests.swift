import Testing

@testable import Flow

/// The shared canonical text of scalar values (`ScalarParsing`, `ScalarFormatting`, `CivilCalendar`)
/// used by the file codecs and by the operators' casts and filters.
@Suite struct ScalarTextTests {
    func parse<T>(_ text: String, _ f: (UnsafeRawBufferPointer) -> T?) -> T? {
        Array(text.utf8).withUnsafeBytes { f($0) }
    }

    func format(_ write: (inout [UInt8]) -> Void) -> String {
        var out: [UInt8] = []
        write(&out)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: parsing

    @Test func integersAreRangeChecked() {
        #expect(parse("42", ScalarParsing.int64) == 42)
        #expect(parse("-9223372036854775808", ScalarParsing.int64) == Int64.min)
        #expect(parse("9223372036854775807", ScalarParsing.int64) == Int64.max)
        #expect(parse("9223372036854775808", ScalarParsing.int64) == nil)
        #expect(parse("-9223372036854775809", ScalarParsing.int64) == nil)
        #expect(parse("99999999999999999999999", ScalarParsing.int64) == nil)
        #expect(parse("+7", ScalarParsing.int64) == 7)
        #expect(parse("0000000000000000000000042", ScalarParsing.int64) == 42)
        #expect(parse("1.0", ScalarParsing.int64) == nil)
        #expect(parse(" 1", ScalarParsing.int64) == nil)
        #expect(parse("", ScalarParsing.int64) == nil)
        #expect(parse("-", ScalarParsing.int64) == nil)
    }

    @Test func floatsAreCorrectlyRounded() {
        for text in ["0.1", "1e-05", "123.456", "1.7976931348623157e+308", "5e-324", "0.30000000000000004", "-0.0",
                     "2.2250738585072014e-308", "9007199254740993", "1e23", "1.", ".5", "-2e3", "+1.5E2"] {
            #expect(parse(text, ScalarParsing.double) == Double(text), "\(text)")
        }
        #expect(parse("nan", ScalarParsing.double)?.isNaN == true)
        #expect(parse("-inf", ScalarParsing.double) == -.infinity)
        #expect(parse("Infinity", ScalarParsing.double) == .infinity)
        #expect(parse("1e", ScalarParsing.double) == nil)
        #expect(parse("1e+", ScalarParsing.double) == nil)
        #expect(parse(".", ScalarParsing.double) == nil)
        #expect(parse("1.2.3", ScalarParsing.double) == nil)
        #expect(parse("0x10", ScalarParsing.double) == nil)
        #expect(parse("0x1p3", ScalarParsing.double) == nil)
        #expect(parse("nan(1)", ScalarParsing.double) == nil)
        #expect(parse(" 1", ScalarParsing.double) == nil)
        #expect(parse("3.4028235e+38", ScalarParsing.float) == Float.greatestFiniteMagnitude)
        #expect(parse("0.1", ScalarParsing.float) == Float(0.1))
        // Straight to Float: no double rounding through Double.
        #expect(parse("1.00000005960464477539062500001", ScalarParsing.float) == Float("1.00000005960464477539062500001"))
    }

    @Test func decimalsAreExactAndBounded() {
        #expect(parse("123.45", { ScalarParsing.decimal($0, precision: 10, scale: 2) }) == 12345)
        #expect(parse("-0.5", { ScalarParsing.decimal($0, precision: 10, scale: 2) }) == -50)
        #expect(parse("7", { ScalarParsing.decimal($0, precision: 10, scale: 2) }) == 700)
        #expect(parse("1.230", { ScalarParsing.decimal($0, precision: 10, scale: 2) }) == 123)
        #expect(parse("1.235", { ScalarParsing.decimal($0, precision: 10, scale: 2) }) == nil)
        #expect(parse("123456789", { ScalarParsing.decimal($0, precision: 10, scale: 2) }) == nil)
        #expect(parse("12345678", { ScalarParsing.decimal($0, precision: 10, scale: 2) }) == 1_234_567_800)
        let big = "12345678901234567890123456789012345678"
        #expect(parse(big, { ScalarParsing.decimal($0, precision: 38, scale: 0) }) == Int128(big))
        #expect(parse(big + "9", { ScalarParsing.decimal($0, precision: 38, scale: 0) }) == nil)
        // Exponents are exact too; zeros that do not change the value never overflow.
        #expect(parse("1.5e2", { ScalarParsing.decimal($0, scale: 2) }) == 15000)
        #expect(parse("15E-1", { ScalarParsing.decimal($0, scale: 1) }) == 15)
        #expect(parse("1e-05", { ScalarParsing.decimal($0, scale: 5) }) == 1)
        #expect(parse("1e-05", { ScalarParsing.decimal($0, scale: 4) }) == nil)
        #expect(parse("1.5" + String(repeating: "0", count: 60), { ScalarParsing.decimal($0, scale: 1) }) == 15)
        #expect(parse("1" + String(repeating: "0", count: 45) + "e-45", { ScalarParsing.decimal($0, scale: 0) }) == 1)
        #expect(parse("0e99999", { ScalarParsing.decimal($0, scale: 0) }) == 0)
        #expect(parse(".5", { ScalarParsing.decimal($0, scale: 2) }) == 50)
        #expect(parse("-0", { ScalarParsing.decimal($0, scale: 2) }) == 0)
        for bad in ["", "-", ".", "1.2.3", "1e", "1e+", "1ex", "abc", " 1", "1 ", "0x10"] {
            #expect(parse(bad, { ScalarParsing.decimal($0, scale: 2) }) == nil, "\(bad)")
        }
    }

    @Test func boolsAcceptTheUsualSpellings() {
        for t in ["true", "TRUE", "t", "T", "1"] { #expect(parse(t, ScalarParsing.bool) == true) }
        for f in ["false", "False", "f", "F", "0"] { #expect(parse(f, ScalarParsing.bool) == false) }
        #expect(parse("yes", ScalarParsing.bool) == nil)
        #expect(parse("no", ScalarParsing.bool) == nil)
        #expect(parse("2", ScalarParsing.bool) == nil)
        #expect(parse("", ScalarParsing.bool) == nil)
    }

    @Test func temporalValues() {
        #expect(parse("1970-01-01", ScalarParsing.date) == 0)
        #expect(parse("2000-03-01", ScalarParsing.date) == 11_017)
        #expect(parse("1969-12-31", ScalarParsing.date) == -1)
        #expect(parse("2023-02-29", ScalarParsing.date) == nil)
        #expect(parse("2024-02-29", ScalarParsing.date) == 19_782)
        #expect(parse("2024-13-01", ScalarParsing.date) == nil)
        #expect(parse("2024-1-01", ScalarParsing.date) == nil)
        #expect(parse("12:34:56.789", ScalarParsing.time) == 45_296_789_000)
        #expect(parse("12:34", ScalarParsing.time) == 45_240_000_000)
        #expect(parse("23:59:59.123456000", ScalarParsing.time) == 86_399_123_456)
        #expect(parse("24:00:00", ScalarParsing.time) == nil)
        #expect(parse("00:00:00.0000001", ScalarParsing.time) == nil)
        #expect(parse("00:00:00.0000000000", ScalarParsing.time) == nil)  // more than 9 fraction digits
        #expect(parse("00:00:00.", ScalarParsing.time) == nil)
        #expect(parse("12:34:5", ScalarParsing.time) == nil)
        let utc = parse("2024-01-02T03:04:05.000006Z") { ScalarParsing.timestamp($0) }
        #expect(utc?.micros == 1_704_164_645_000_006 && utc?.hasZone == true)
        let plus2 = parse("2024-01-02 05:04:05.000006+02:00") { ScalarParsing.timestamp($0) }
        #expect(plus2?.micros == 1_704_164_645_000_006)
        let minus5 = parse("2024-01-01t22:04:05.000006-0500") { ScalarParsing.timestamp($0) }
        #expect(minus5?.micros == 1_704_164_645_000_006)
        let plus3 = parse("2024-01-02T06:04:05.000006+03") { ScalarParsing.timestamp($0) }
        #expect(plus3?.micros == 1_704_164_645_000_006)
        let naive = parse("2024-01-02 03:04:05") { ScalarParsing.timestamp($0) }
        #expect(naive?.micros == 1_704_164_645_000_000 && naive?.hasZone == false)
        let date = parse("2024-01-02") { ScalarParsing.timestamp($0) }
        #expect(date?.micros == 1_704_153_600_000_000 && date?.hasZone == false)
        #expect(parse("2024-01-02") { ScalarParsing.timestamp($0, requireTime: true) } == nil)
        #expect(parse("2024-01-02X03:04:05") { ScalarParsing.timestamp($0) } == nil)
        #expect(parse("2024-01-02Z") { ScalarParsing.timestamp($0) } == nil)  // a zone needs a time
        #expect(parse("2024-01-02T03:04:05+19:00") { ScalarParsing.timestamp($0) } == nil)
        #expect(parse("2024-01-02T03:04:05+02:60") { ScalarParsing.timestamp($0) } == nil)
        #expect(parse("2024-01-02T03:04:05+2") { ScalarParsing.timestamp($0) } == nil)
        #expect(parse("2024-01-02T03:04:05 ") { ScalarParsing.timestamp($0) } == nil)
    }

    @Test func uuidsAndHexBytes() {
        let expected: [UInt8] = [0x12, 0x3E, 0x45, 0x67, 0xE8, 0x9B, 0x12, 0xD3, 0xA4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00]
        for text in ["123E4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000"] {
            var out = [UInt8](repeating: 0, count: 16)
            let ok = out.withUnsafeMutableBytes { o in parse(text) { ScalarParsing.uuid($0, into: o) } }
            #expect(ok == true && out == expected, "\(text)")
        }
        for bad in ["123e4567-e89b-12d3-a456-42661417400g", "123e4567-e89b-12d3-a456_426614174000", "123e4567"] {
            var out = [UInt8](repeating: 0, count: 16)
            #expect(out.withUnsafeMutableBytes { o in parse(bad) { ScalarParsing.uuid($0, into: o) } } == false)
        }
        var bytes: [UInt8] = []
        #expect(parse("\\xdeADbeef") { ScalarParsing.hex($0, into: &bytes) } == true && bytes == [0xDE, 0xAD, 0xBE, 0xEF])
        bytes = []
        #expect(parse("abc") { ScalarParsing.hex($0, into: &bytes) } == false)
        #expect(parse("zz") { ScalarParsing.hex($0, into: &bytes) } == false)
    }

    // MARK: formatting

    @Test func formattingRoundTripsThroughParsing() {
        #expect(format { ScalarFormatting.appendDecimal(-5, scale: 3, to: &$0) } == "-0.005")
        #expect(format { ScalarFormatting.appendDecimal(0, scale: 2, to: &$0) } == "0.00")
        #expect(format { ScalarFormatting.appendDecimal(12345, scale: 2, to: &$0) } == "123.45")
        #expect(format { ScalarFormatting.appendDecimal(-42, scale: 0, to: &$0) } == "-42")
        let big = Int128("-99999999999999999999999999999999999999")!
        #expect(format { ScalarFormatting.appendDecimal(big, scale: 10, to: &$0) } == "-9999999999999999999999999999.9999999999")
        #expect(format { ScalarFormatting.appendDecimal(.min, scale: 0, to: &$0) } == String(Int128.min))
        let stamp = format { ScalarFormatting.appendTimestamp(micros: -1, withTimeZone: true, to: &$0) }
        #expect(stamp == "1969-12-31T23:59:59.999999Z")
        #expect(parse(stamp) { ScalarParsing.timestamp($0) }?.micros == -1)
        #expect(format { ScalarFormatting.appendTimestamp(micros: 86_400_000_000, withTimeZone: false, to: &$0) } == "1970-01-02T00:00:00")
        for days: Int32 in [-719_162, -1, 0, 1, 11_016, 2_932_896] {
            let text = format { ScalarFormatting.appendDate(days: days, to: &$0) }
            #expect(parse(text, ScalarParsing.date) == days)
        }
        #expect(format { ScalarFormatting.appendDate(days: 2_932_897, to: &$0) } == "10000-01-01")
        #expect(format { ScalarFormatting.appendDate(days: -719_529, to: &$0) } == "-0001-12-31")
        #expect(format { ScalarFormatting.appendTime(micros: 0, to: &$0) } == "00:00:00")
        #expect(format { ScalarFormatting.appendTime(micros: 45_296_000_007, to: &$0) } == "12:34:56.000007")
        #expect(format { ScalarFormatting.appendInt(Int64.min, to: &$0) } == "-9223372036854775808")
        #expect(format { ScalarFormatting.appendInt(7, to: &$0) } == "7")
        #expect(format { ScalarFormatting.appendDouble(1e-5, to: &$0) } == "1e-05")
        #expect(format { ScalarFormatting.appendFloat(0.1, to: &$0) } == "0.1")
        let uuid: [UInt8] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF]
        #expect(format { out in uuid.withUnsafeBytes { ScalarFormatting.appendUUID($0, to: &out) } }
            == "00112233-4455-6677-8899-aabbccddeeff")
        #expect(format { out in ([0xDE, 0xAD] as [UInt8]).withUnsafeBytes { ScalarFormatting.appendHex($0, to: &out) } } == "dead")
    }

    @Test func textOfValues() {
        #expect(ScalarFormatting.text(of: .null) == "NULL")
        #expect(ScalarFormatting.text(of: .bytes([0x01, 0xAB])) == "\\x01ab")
        #expect(ScalarFormatting.text(of: .decimal(150, scale: 2)) == "1.50")
        #expect(ScalarFormatting.text(of: .string("it's")) == "it's")
        #expect(ScalarFormatting.text(of: .uuid([1, 2])) == "uuid(2 bytes)")
        #expect(ScalarFormatting.text(of: .timestamp(0, withTimeZone: true)) == "1970-01-01T00:00:00Z")
    }

    // MARK: calendar

    @Test func civilCalendarRoundTripsEveryDay() {
        var days = -800_000
        while days <= 3_000_000 {
            let (y, m, d) = CivilCalendar.civil(days: days)
            #expect((1...12).contains(m) && d >= 1 && d <= CivilCalendar.daysInMonth(year: y, month: m))
            #expect(CivilCalendar.days(year: y, month: m, day: d) == days)
            days += 997
        }
        #expect(CivilCalendar.civil(days: 0) == (1970, 1, 1))
        #expect(CivilCalendar.days(year: 2000, month: 2, day: 29) == 11_016)
        #expect(CivilCalendar.daysInMonth(year: 1900, month: 2) == 28)
        #expect(CivilCalendar.daysInMonth(year: 2000, month: 2) == 29)
        #expect(CivilCalendar.split(micros: -1) == (-1, 86_399_999_999))
        #expect(CivilCalendar.floorDivMod(-7, 2) == (-4, 1))
    }

    @Test func decimalMath() {
        #expect(DecimalMath.rescale(150, from: 2, to: 1) == 15)
        #expect(DecimalMath.rescale(155, from: 2, to: 1) == nil)
        #expect(DecimalMath.rescale(Int128.max, from: 0, to: 1) == nil)
        #expect(DecimalMath.fits(99_999, precision: 5) && !DecimalMath.fits(100_000, precision: 5))
        #expect(DecimalMath.compare(15, 1, 150, 2) == 0)
        #expect(DecimalMath.compare(-1, 0, 1, 5) == -1)
    }
}
