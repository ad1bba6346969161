/// Strict parsers from UTF-8 text to the storage of each logical type; nil when the text is not a
/// valid value of the type or cannot be stored without losing digits. No surrounding whitespace is
/// accepted.
///
/// - int: `[+-]digits`.
/// - decimal: `[+-]digits[.digits][e[+-]digits]` (or `.digits`); digits beyond the target scale must be zeros.
/// - float: what Swift's `Double(String)` / `Float(String)` accept (`1.5`, `1e-3`, `nan`, `inf`...).
/// - bool: `true`/`false`, `t`/`f`, `yes`/`no`, `1`/`0` (case-insensitive).
/// - date: `YYYY-MM-DD`.
/// - time: `HH:MM:SS[.fraction]` (fraction up to 9 digits; digits past microseconds must be zeros).
/// - timestamp: a date, optionally followed by `T` or a space and a time, optionally followed by
///   `Z` or an offset `±HH`, `±HHMM`, `±HH:MM`. An offset converts the reading to UTC; without one
///   the reading is taken as is (UTC for timestamptz).
/// - uuid: 32 hex digits, either plain or grouped 8-4-4-4-12, either case.
enum TextParsing {
    typealias Text = UnsafeBufferPointer<UInt8>

    @inline(__always)
    private static func digit(_ c: UInt8) -> Int? {
        c >= 48 && c <= 57 ? Int(c - 48) : nil
    }

    static func int64(_ s: Text) -> Int64? {
        guard !s.isEmpty else { return nil }
        var i = 0
        var negative = false
        if s[0] == UInt8(ascii: "-") || s[0] == UInt8(ascii: "+") {
            negative = s[0] == UInt8(ascii: "-")
            i = 1
        }
        guard i < s.count else { return nil }
        var magnitude: UInt64 = 0
        while i < s.count {
            guard let d = digit(s[i]) else { return nil }
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            magnitude = a
            i += 1
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return .min }
            return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// The unscaled value of `s` at `scale`; nil when unparsable, when non-zero digits would be
    /// dropped, or when the value overflows Int128 (precision is the caller's check).
    static func decimal(_ s: Text, scale: Int) -> Int128? {
        var i = 0
        var negative = false
        if i < s.count && (s[i] == UInt8(ascii: "-") || s[i] == UInt8(ascii: "+")) {
            negative = s[i] == UInt8(ascii: "-")
            i += 1
        }
        var mantissa: Int128 = 0
        var fractionDigits = 0
        var pendingZeros = 0
        var sawDigit = false
        var inFraction = false
        while i < s.count {
            let c = s[i]
            if c == UInt8(ascii: ".") {
                guard !inFraction else { return nil }
                inFraction = true
            } else if let d = digit(c) {
                sawDigit = true
                if inFraction && d == 0 {
                    pendingZeros += 1
                } else {
                    // Trailing fractional zeros are only materialised when a non-zero digit follows.
                    let shift = inFraction ? pendingZeros + 1 : 1
                    guard shift <= 38 else { return nil }
                    let (m, o1) = mantissa.multipliedReportingOverflow(by: DecimalMath.pow10[shift])
                    let (a, o2) = m.addingReportingOverflow(Int128(d))
                    if o1 || o2 { return nil }
                    mantissa = a
                    if inFraction { fractionDigits += shift }
                    pendingZeros = 0
                }
            } else {
                break
            }
            i += 1
        }
        guard sawDigit else { return nil }
        var exponent = 0
        if i < s.count {
            guard s[i] == UInt8(ascii: "e") || s[i] == UInt8(ascii: "E"),
                let e = int64(Text(rebasing: s[(i + 1)...])), abs(e) <= 1000
            else { return nil }
            exponent = Int(e)
        }
        guard let scaled = DecimalMath.rescale(mantissa, from: fractionDigits - exponent, to: scale) else {
            return nil
        }
        return negative ? -scaled : scaled
    }

    static func double(_ s: Text) -> Double? {
        guard !s.isEmpty, s.count < 512 else { return nil }
        return Double(String(decoding: s, as: UTF8.self))
    }

    static func float(_ s: Text) -> Float? {
        guard !s.isEmpty, s.count < 512 else { return nil }
        return Float(String(decoding: s, as: UTF8.self))
    }

    static func bool(_ s: Text) -> Bool? {
        guard s.count <= 5 else { return nil }
        var lower: UInt64 = 0
        for c in s { lower = lower << 8 | UInt64(c | (c >= 65 && c <= 90 ? 0x20 : 0)) }
        switch lower {
        case 0x74_72_75_65, 0x74, 0x79_65_73, 0x31: return true  // true, t, yes, 1
        case 0x66_61_6C_73_65, 0x66, 0x6E_6F, 0x30: return false  // false, f, no, 0
        default: return nil
        }
    }

    /// Parses `N` digits at `i`, advancing it.
    @inline(__always)
    private static func fixedDigits(_ s: Text, _ i: inout Int, _ n: Int) -> Int? {
        guard i + n <= s.count else { return nil }
        var v = 0
        for k in i..<i + n {
            guard let d = digit(s[k]) else { return nil }
            v = v * 10 + d
        }
        i += n
        return v
    }

    @inline(__always)
    private static func expect(_ s: Text, _ i: inout Int, _ c: Character) -> Bool {
        guard i < s.count, s[i] == c.asciiValue! else { return false }
        i += 1
        return true
    }

    private static func date(_ s: Text, _ i: inout Int) -> Int? {
        guard let y = fixedDigits(s, &i, 4), expect(s, &i, "-"), let m = fixedDigits(s, &i, 2),
            expect(s, &i, "-"), let d = fixedDigits(s, &i, 2),
            (1...12).contains(m), d >= 1, d <= CivilCalendar.daysInMonth(year: y, month: m)
        else { return nil }
        return CivilCalendar.days(year: y, month: m, day: d)
    }

    private static func time(_ s: Text, _ i: inout Int) -> Int64? {
        guard let h = fixedDigits(s, &i, 2), expect(s, &i, ":"), let m = fixedDigits(s, &i, 2),
            expect(s, &i, ":"), let sec = fixedDigits(s, &i, 2), h < 24, m < 60, sec < 60
        else { return nil }
        var micros = Int64(h * 3600 + m * 60 + sec) * CivilCalendar.microsPerSecond
        if i < s.count && s[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            var fraction: Int64 = 0
            while i < s.count, let d = digit(s[i]) {
                digits += 1
                if digits <= 6 {
                    fraction = fraction * 10 + Int64(d)
                } else if d != 0 || digits > 9 {
                    return nil
                }
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 6)..<6 { fraction *= 10 }
            micros += fraction
        }
        return micros
    }

    static func date(_ s: Text) -> Int32? {
        var i = 0
        guard let d = date(s, &i), i == s.count else { return nil }
        return Int32(d)
    }

    static func time(_ s: Text) -> Int64? {
        var i = 0
        guard let t = time(s, &i), i == s.count else { return nil }
        return t
    }

    /// Microseconds since the epoch, converted to UTC when the text carries an offset.
    static func timestamp(_ s: Text) -> Int64? {
        var i = 0
        guard let days = date(s, &i) else { return nil }
        var micros = Int64(days) * CivilCalendar.microsPerDay
        guard i < s.count else { return micros }
        if s[i] == UInt8(ascii: "T") || s[i] == UInt8(ascii: "t") || s[i] == UInt8(ascii: " ") {
            i += 1
            guard let t = time(s, &i) else { return nil }
            micros += t
        }
        guard i < s.count else { return micros }
        if (s[i] == UInt8(ascii: "Z") || s[i] == UInt8(ascii: "z")) && i + 1 == s.count { return micros }
        guard s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") else { return nil }
        let sign: Int64 = s[i] == UInt8(ascii: "-") ? -1 : 1
        i += 1
        guard let h = fixedDigits(s, &i, 2), h <= 18 else { return nil }
        var m = 0
        if i < s.count {
            _ = expect(s, &i, ":")
            guard let mm = fixedDigits(s, &i, 2), mm < 60, i == s.count else { return nil }
            m = mm
        }
        return micros - sign * Int64(h * 3600 + m * 60) * CivilCalendar.microsPerSecond
    }

    /// Writes 16 bytes into `out`; false when `s` is not a uuid.
    static func uuid(_ s: Text, into out: UnsafeMutableRawBufferPointer) -> Bool {
        let grouped = s.count == 36
        guard grouped || s.count == 32 else { return false }
        var i = 0
        for k in 0..<16 {
            if grouped && (k == 4 || k == 6 || k == 8 || k == 10) {
                guard s[i] == UInt8(ascii: "-") else { return false }
                i += 1
            }
            guard let hi = hex(s[i]), let lo = hex(s[i + 1]) else { return false }
            out[k] = hi << 4 | lo
            i += 2
        }
        return true
    }

    @inline(__always)
    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
}
