/// Writers of the canonical text `ScalarText` reads back exactly.
///
/// Integers in decimal; floats as Swift's shortest round-tripping representation (`nan`, `inf`,
/// `-inf` included); decimals with exactly `scale` fractional digits; dates `YYYY-MM-DD`; times
/// `HH:MM:SS[.ffffff]` (fraction only when non-zero); timestamps `YYYY-MM-DDTHH:MM:SS[.ffffff]`
/// plus `Z` with time zone; uuids lowercase hyphenated; bytes lowercase hex.
enum ScalarTextFormat {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        appendUnsigned(v.magnitude, to: &out)
    }

    static func appendUnsigned(_ v: UInt64, to out: inout [UInt8]) {
        if v < 10 {
            out.append(UInt8(ascii: "0") + UInt8(v))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = v
            var i = 20
            while n > 0 {
                i -= 1
                digits[i] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[i..<20]))
        }
    }

    @inline(__always)
    static func appendPadded(_ v: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var n = v
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8((n / divisor) % 10))
            n %= divisor
            divisor /= 10
        }
    }

    static func appendDouble(_ v: Double, to out: inout [UInt8]) {
        out.append(contentsOf: v.description.utf8)
    }

    static func appendFloat(_ v: Float, to out: inout [UInt8]) {
        out.append(contentsOf: v.description.utf8)
    }

    static func appendBool(_ v: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: v ? "true".utf8 : "false".utf8)
    }

    static func appendDecimal(_ v: Int128, scale: Int, to out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        let digits = Array(String(v.magnitude).utf8)
        if scale == 0 {
            out.append(contentsOf: digits)
            return
        }
        if digits.count <= scale {
            out.append(UInt8(ascii: "0"))
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: scale - digits.count))
            out.append(contentsOf: digits)
        } else {
            out.append(contentsOf: digits[..<(digits.count - scale)])
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[(digits.count - scale)...])
        }
    }

    static func appendDate(days: Int32, to out: inout [UInt8]) {
        let (y, m, d) = CivilCalendar.civil(days: Int(days))
        if y < 0 { out.append(UInt8(ascii: "-")) }
        appendPadded(abs(y), width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(m, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(d, width: 2, to: &out)
    }

    static func appendTime(micros: Int64, to out: inout [UInt8]) {
        let (seconds, fraction) = CivilCalendar.floorDivMod(micros, CivilCalendar.microsPerSecond)
        let s = Int(seconds)
        appendPadded(s / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(s / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(s % 60, width: 2, to: &out)
        if fraction != 0 {
            out.append(UInt8(ascii: "."))
            appendPadded(Int(fraction), width: 6, to: &out)
        }
    }

    static func appendTimestamp(micros: Int64, withTimeZone: Bool, to out: inout [UInt8]) {
        let (days, clock) = CivilCalendar.floorDivMod(micros, CivilCalendar.microsPerDay)
        appendDate(days: Int32(truncatingIfNeeded: days), to: &out)
        out.append(UInt8(ascii: "T"))
        appendTime(micros: clock, to: &out)
        if withTimeZone { out.append(UInt8(ascii: "Z")) }
    }

    static func appendUUID(_ b: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for i in 0..<16 {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hexDigits[Int(b[i] >> 4)])
            out.append(hexDigits[Int(b[i] & 15)])
        }
    }

    static func appendHex(_ b: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for byte in b {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 15)])
        }
    }
}
