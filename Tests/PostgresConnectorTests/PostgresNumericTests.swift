import Flow
import PostgresConnector
import Testing

/// Golden wire numerics captured from PostgreSQL 15 (`COPY (SELECT v) TO STDOUT (FORMAT binary)`).
@Suite struct PostgresNumericTests {
    struct Golden: Sendable, CustomStringConvertible {
        let text: String
        let unscaled: Int128
        let scale: Int
        let hex: String
        var description: String { text }
    }

    static let goldens: [Golden] = [
        Golden(text: "0::numeric(10,2)", unscaled: 0, scale: 2, hex: "0000000000000002"),
        Golden(text: "-0.01::numeric(10,2)", unscaled: -1, scale: 2, hex: "0001ffff400000020064"),
        Golden(
            text: "99999999999999999999.99::numeric(22,2)", unscaled: 9_999_999_999_999_999_999_999, scale: 2,
            hex: "0006000400000002270f270f270f270f270f26ac"),
        Golden(text: "1e-20::numeric(38,20)", unscaled: 1, scale: 20, hex: "0001fffb000000140001"),
        Golden(text: "12345.6789::numeric(12,4)", unscaled: 123_456_789, scale: 4, hex: "0003000100000004000109291a85"),
        Golden(
            text: "12345678901234567890123456789012345678::numeric(38,0)",
            unscaled: 12_345_678_901_234_567_890_123_456_789_012_345_678, scale: 0,
            hex: "000a000900000000000c0d801ed204d2162e23340d801ed204d2162e"),
        Golden(
            text: "-1.2345678901234567890123456789012345678::numeric(38,37)",
            unscaled: -12_345_678_901_234_567_890_123_456_789_012_345_678, scale: 37,
            hex: "000b000040000025000109291a85007b11d722c509291a85007b11d71f40"),
        Golden(
            text: "1e37::numeric(38,0)", unscaled: 10_000_000_000_000_000_000_000_000_000_000_000_000, scale: 0,
            hex: "0001000900000000000a"),
        Golden(text: "100::numeric(5,0)", unscaled: 100, scale: 0, hex: "00010000000000000064"),
        Golden(text: "0.5::numeric(3,1)", unscaled: 5, scale: 1, hex: "0001ffff000000011388"),
        Golden(text: "10000::numeric(10,0)", unscaled: 10_000, scale: 0, hex: "00010001000000000001"),
        Golden(
            text: "-99999999999999999999999999999999999999::numeric(38,0)",
            unscaled: -99_999_999_999_999_999_999_999_999_999_999_999_999, scale: 0,
            hex: "000a0009400000000063270f270f270f270f270f270f270f270f270f"),
        Golden(text: "1e-38::numeric(38,38)", unscaled: 1, scale: 38, hex: "0001fff6000000260064"),
        Golden(text: "1::numeric(10,5)", unscaled: 100_000, scale: 5, hex: "00010000000000050001"),
    ]

    @Test(arguments: goldens)
    func decodesGolden(_ g: Golden) throws {
        let wire = bytes(hex: g.hex)
        let value = try wire.withUnsafeBytes { try PostgresNumeric.decode($0, scale: g.scale) }
        #expect(value == g.unscaled)
    }

    @Test(arguments: goldens)
    func encodesGolden(_ g: Golden) {
        var out: [UInt8] = []
        let n = PostgresNumeric.encode(g.unscaled, scale: g.scale, to: &out)
        #expect(hex(out) == g.hex)
        #expect(n == out.count)
    }

    /// The text path (numeric of any precision) writes what the integer path writes for the same
    /// value: PostgreSQL's own bytes.
    @Test(arguments: goldens)
    func encodesGoldenFromText(_ g: Golden) {
        var text: [UInt8] = []
        ScalarFormatting.appendDecimal(g.unscaled, scale: g.scale, to: &text)
        var out: [UInt8] = []
        let n = text.withUnsafeBytes { PostgresNumeric.encode(text: $0, to: &out) }
        #expect(hex(out) == g.hex, "\(String(decoding: text, as: UTF8.self))")
        #expect(n == out.count)
    }

    @Test func encodesSpecialValuesAndRefusesOtherText() {
        func encode(_ text: String) -> String? {
            var out: [UInt8] = []
            guard Array(text.utf8).withUnsafeBytes({ PostgresNumeric.encode(text: $0, to: &out) }) != nil else { return nil }
            return hex(out)
        }
        #expect(encode("NaN") == "00000000c0000000")
        #expect(encode("Infinity") == "00000000d0000000")
        #expect(encode("-Infinity") == "00000000f0000000")
        #expect(encode("-0.00") == "0000000000000002")  // no negative zero, scale kept
        // 10^60 + 0.5: 16 groups, weight 15, dscale 1.
        #expect(encode("1" + String(repeating: "0", count: 60) + ".5") == "0011000f000000010001" + String(repeating: "0000", count: 15) + "1388")
        #expect(encode("1e5") == nil)
        #expect(encode("") == nil)
    }

    @Test func decodesAtAWiderScale() throws {
        // 12345.6789 read into decimal(20,8) → 1234567890000 at scale 8.
        let wire = bytes(hex: "0003000100000004000109291a85")
        #expect(try wire.withUnsafeBytes { try PostgresNumeric.decode($0, scale: 8) } == 1_234_567_890_000)
    }

    @Test func rejectsSpecialValuesAndLostDigits() {
        func decode(_ h: String, scale: Int) -> PostgresNumeric.Failure? {
            do {
                _ = try bytes(hex: h).withUnsafeBytes { try PostgresNumeric.decode($0, scale: scale) }
                return nil
            } catch let failure as PostgresNumeric.Failure { return failure } catch { return nil }
        }
        #expect(decode("00000000c0000000", scale: 0) == .nan)
        #expect(decode("00000000d0000000", scale: 0) == .infinity(negative: false))
        #expect(decode("00000000f0000000", scale: 0) == .infinity(negative: true))
        // 12345.6789 at scale 2 would drop 89.
        #expect(decode("0003000100000004000109291a85", scale: 2) == .tooManyFractionalDigits)
        // 1e-20 at scale 2.
        #expect(decode("0001fffb000000140001", scale: 2) == .tooManyFractionalDigits)
        // 10^40 does not fit.
        #expect(decode("0001000a000000000001", scale: 0) == .overflow)
        #expect(decode("0001", scale: 0) == .malformed)
        #expect(PostgresNumeric.Failure.nan.description == "NaN is not a decimal value")
    }

    @Test func roundTripsRandomValues() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let scale = Int.random(in: 0...38, using: &rng)
            let digits = Int.random(in: 1...38, using: &rng)
            var v = Int128(Int64.random(in: 0...Int64.max, using: &rng)) * Int128(Int64.random(in: 0...Int64.max, using: &rng))
            v %= DecimalMath.pow10[digits]
            if Bool.random(using: &rng) { v = -v }
            var out: [UInt8] = []
            PostgresNumeric.encode(v, scale: scale, to: &out)
            let back = try out.withUnsafeBytes { try PostgresNumeric.decode($0, scale: scale) }
            #expect(back == v, "value \(v) scale \(scale)")
        }
    }
}
