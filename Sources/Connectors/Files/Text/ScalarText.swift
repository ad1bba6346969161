/// Parsers for the canonical text of scalar values, straight from bytes (no String, no allocation).
///
/// Every parser reads the whole buffer and returns nil when any byte does not belong to the value:
/// callers turn nil into an error that names the value. Accepted spellings:
/// - integers: `[+-]digits`, range-checked;
/// - floats: `[+-]digits[.digits][e[+-]digits]`, `nan`, `inf`, `infinity` (any case, signed);
///   correctly rounded (exact fast path, else the standard library's parser);
/// - decimal(p,s): `[+-]digits[.digits]`; at most `p - s` integer digits; fractional digits beyond
///   `s` must be zeros (no silent rounding);
/// - bool: `true/false/t/f/1/0`, any case;
/// - date: `YYYY-MM-DD`; time: `HH:MM[:SS[.fraction]]` (fraction digits beyond µs must be zeros);
/// - timestamp: `date[(T|t| )time][Z|z|±HH[:MM]|±HHMM]`; an offset is subtracted, giving UTC.
enum ScalarText {
    static let zero = UInt8(ascii: "0")

    @inline(__always)
    static func digit(_ b: UInt8) -> UInt8? {
        let d = b &- zero
        return d < 10 ? d : nil
    }

    // MARK: integers

    @inline(__always)
    static func int64(_ b: UnsafeRawBufferPointer) -> Int64? {
        let n = b.count
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if b[0] == UInt8(ascii: "-") { negative = true; i = 1 } else if b[0] == UInt8(ascii: "+") { i = 1 }
        guard i < n, n - i <= 20 else { return nil }
        var v: UInt64 = 0
        while i < n {
            let d = b[i] &- zero
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        if negative {
            guard v <= UInt64(Int64.max) + 1 else { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        guard v <= UInt64(Int64.max) else { return nil }
        return Int64(v)
    }

    // MARK: floats

    private static let exactPowersOfTen: [Double] = (0...22).map { e in
        var v = 1.0
        for _ in 0..<e { v *= 10 }
        return v
    }
    private static let exactPowersOfTenFloat: [Float] = (0...10).map { e in
        var v: Float = 1
        for _ in 0..<e { v *= 10 }
        return v
    }

    /// The decimal pieces of a float literal: `mantissa * 10^exponent`, exact when not `truncated`.
    struct DecimalFloat {
        var negative = false
        var mantissa: UInt64 = 0
        var exponent = 0
        var truncated = false
    }

    enum FloatSyntax {
        case finite(DecimalFloat)
        case nan
        case infinity(negative: Bool)
    }

    /// Validates float syntax and gathers up to 19 significant digits.
    static func floatSyntax(_ b: UnsafeRawBufferPointer) -> FloatSyntax? {
        let n = b.count
        guard n > 0 else { return nil }
        var f = DecimalFloat()
        var i = 0
        if b[0] == UInt8(ascii: "-") { f.negative = true; i = 1 } else if b[0] == UInt8(ascii: "+") { i = 1 }
        guard i < n else { return nil }
        if digit(b[i]) == nil && b[i] != UInt8(ascii: ".") {
            return special(UnsafeRawBufferPointer(rebasing: b[i...]), negative: f.negative)
        }
        var significant = 0
        var sawDigit = false
        while i < n, let d = digit(b[i]) {
            sawDigit = true
            if f.mantissa == 0 && d == 0 {
            } else if significant < 19 {
                f.mantissa = f.mantissa &* 10 &+ UInt64(d)
                significant += 1
            } else {
                f.exponent += 1
                if d != 0 { f.truncated = true }
            }
            i += 1
        }
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, let d = digit(b[i]) {
                sawDigit = true
                if f.mantissa == 0 && d == 0 {
                    f.exponent -= 1
                } else if significant < 19 {
                    f.mantissa = f.mantissa &* 10 &+ UInt64(d)
                    significant += 1
                    f.exponent -= 1
                } else if d != 0 {
                    f.truncated = true
                }
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            var negativeExponent = false
            if i < n && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) {
                negativeExponent = b[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < n else { return nil }
            var e = 0
            while i < n, let d = digit(b[i]) {
                if e < 100_000 { e = e * 10 + Int(d) }
                i += 1
            }
            f.exponent += negativeExponent ? -e : e
        }
        guard i == n else { return nil }
        return .finite(f)
    }

    private static func special(_ b: UnsafeRawBufferPointer, negative: Bool) -> FloatSyntax? {
        var word: [UInt8] = []
        word.reserveCapacity(b.count)
        for c in b { word.append(c | 0x20) }
        switch word {
        case Array("nan".utf8): return .nan
        case Array("inf".utf8), Array("infinity".utf8): return .infinity(negative: negative)
        default: return nil
        }
    }

    static func double(_ b: UnsafeRawBufferPointer) -> Double? {
        guard let syntax = floatSyntax(b) else { return nil }
        switch syntax {
        case .nan: return .nan
        case .infinity(let negative): return negative ? -.infinity : .infinity
        case .finite(let f):
            if f.mantissa == 0 { return f.negative ? -0.0 : 0.0 }
            if !f.truncated && f.mantissa <= 1 << 53 && f.exponent >= -22 && f.exponent <= 22 {
                var v = Double(f.mantissa)
                v = f.exponent < 0 ? v / exactPowersOfTen[-f.exponent] : v * exactPowersOfTen[f.exponent]
                return f.negative ? -v : v
            }
            return Double(String(decoding: b, as: UTF8.self))
        }
    }

    static func float(_ b: UnsafeRawBufferPointer) -> Float? {
        guard let syntax = floatSyntax(b) else { return nil }
        switch syntax {
        case .nan: return .nan
        case .infinity(let negative): return negative ? -.infinity : .infinity
        case .finite(let f):
            if f.mantissa == 0 { return f.negative ? -0.0 : 0.0 }
            if !f.truncated && f.mantissa <= 1 << 24 && f.exponent >= -10 && f.exponent <= 10 {
                var v = Float(f.mantissa)
                v = f.exponent < 0 ? v / exactPowersOfTenFloat[-f.exponent] : v * exactPowersOfTenFloat[f.exponent]
                return f.negative ? -v : v
            }
            return Float(String(decoding: b, as: UTF8.self))
        }
    }

    // MARK: decimal

    static func decimal(_ b: UnsafeRawBufferPointer, precision: Int, scale: Int) -> Int128? {
        let n = b.count
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if b[0] == UInt8(ascii: "-") { negative = true; i = 1 } else if b[0] == UInt8(ascii: "+") { i = 1 }
        var v: Int128 = 0
        var integerDigits = 0
        var sawDigit = false
        while i < n, let d = digit(b[i]) {
            sawDigit = true
            if v != 0 || d != 0 { integerDigits += 1 }
            guard integerDigits <= precision - scale else { return nil }
            v = v * 10 + Int128(d)
            i += 1
        }
        var fractionDigits = 0
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, let d = digit(b[i]) {
                sawDigit = true
                if fractionDigits < scale {
                    v = v * 10 + Int128(d)
                    fractionDigits += 1
                } else if d != 0 {
                    return nil
                }
                i += 1
            }
        }
        guard sawDigit, i == n else { return nil }
        while fractionDigits < scale {
            v *= 10
            fractionDigits += 1
        }
        return negative ? -v : v
    }

    // MARK: bool

    static func bool(_ b: UnsafeRawBufferPointer) -> Bool? {
        switch b.count {
        case 1:
            switch b[0] {
            case UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "1"): return true
            case UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "0"): return false
            default: return nil
            }
        case 4: return lowercased(b, equals: "true") ? true : nil
        case 5: return lowercased(b, equals: "false") ? false : nil
        default: return nil
        }
    }

    @inline(__always)
    static func lowercased(_ b: UnsafeRawBufferPointer, equals word: StaticString) -> Bool {
        guard b.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for i in 0..<b.count where b[i] | 0x20 != w[i] { return false }
        return true
    }

    // MARK: temporal

    @inline(__always)
    static func fixedDigits(_ b: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int? {
        var v = 0
        for i in at..<at + count {
            guard let d = digit(b[i]) else { return nil }
            v = v * 10 + Int(d)
        }
        return v
    }

    /// `YYYY-MM-DD` as days since 1970-01-01.
    static func date(_ b: UnsafeRawBufferPointer) -> Int32? {
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            let y = fixedDigits(b, 0, 4), let m = fixedDigits(b, 5, 2), let d = fixedDigits(b, 8, 2),
            (1...12).contains(m), d >= 1, d <= CivilCalendar.daysInMonth(year: y, month: m)
        else { return nil }
        return Int32(CivilCalendar.days(year: y, month: m, day: d))
    }

    /// `HH:MM[:SS[.fraction]]` as microseconds since midnight.
    static func time(_ b: UnsafeRawBufferPointer) -> Int64? {
        let n = b.count
        guard n >= 5, b[2] == UInt8(ascii: ":"), let h = fixedDigits(b, 0, 2), let m = fixedDigits(b, 3, 2),
            h < 24, m < 60
        else { return nil }
        var seconds = 0
        var micros: Int64 = 0
        if n > 5 {
            guard n >= 8, b[5] == UInt8(ascii: ":"), let s = fixedDigits(b, 6, 2), s < 60 else { return nil }
            seconds = s
            if n > 8 {
                guard b[8] == UInt8(ascii: "."), n > 9 else { return nil }
                var digits = 0
                for i in 9..<n {
                    guard let d = digit(b[i]) else { return nil }
                    if digits < 6 {
                        micros = micros * 10 + Int64(d)
                        digits += 1
                    } else if d != 0 {
                        return nil
                    }
                }
                while digits < 6 { micros *= 10; digits += 1 }
            }
        }
        return Int64(h * 3600 + m * 60 + seconds) * CivilCalendar.microsPerSecond + micros
    }

    /// A timestamp as UTC microseconds since the epoch, and whether the text carried a zone.
    /// With `requireTime`, a bare date is rejected (schema inference tells dates from timestamps).
    static func timestamp(_ b: UnsafeRawBufferPointer, requireTime: Bool = false) -> (micros: Int64, hasZone: Bool)? {
        let n = b.count
        guard n >= 10, let days = date(UnsafeRawBufferPointer(rebasing: b[0..<10])) else { return nil }
        let midnight = Int64(days) * CivilCalendar.microsPerDay
        if n == 10 { return requireTime ? nil : (midnight, false) }
        let separator = b[10]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " ")
        else { return nil }
        var j = 11
        while j < n, digit(b[j]) != nil || b[j] == UInt8(ascii: ":") || b[j] == UInt8(ascii: ".") { j += 1 }
        guard let clock = time(UnsafeRawBufferPointer(rebasing: b[11..<j])) else { return nil }
        let local = midnight + clock
        if j == n { return (local, false) }
        let zone = UnsafeRawBufferPointer(rebasing: b[j...])
        guard let offsetMinutes = zoneOffsetMinutes(zone) else { return nil }
        return (local - Int64(offsetMinutes) * 60 * CivilCalendar.microsPerSecond, true)
    }

    /// `Z`, `±HH`, `±HH:MM` or `±HHMM` as minutes east of UTC.
    static func zoneOffsetMinutes(_ b: UnsafeRawBufferPointer) -> Int? {
        let n = b.count
        if n == 1 && (b[0] == UInt8(ascii: "Z") || b[0] == UInt8(ascii: "z")) { return 0 }
        guard n == 3 || n == 5 || n == 6, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-"),
            let h = fixedDigits(b, 1, 2), h <= 23
        else { return nil }
        var m = 0
        if n == 5 {
            guard let mm = fixedDigits(b, 3, 2) else { return nil }
            m = mm
        } else if n == 6 {
            guard b[3] == UInt8(ascii: ":"), let mm = fixedDigits(b, 4, 2) else { return nil }
            m = mm
        }
        guard m < 60 else { return nil }
        let minutes = h * 60 + m
        return b[0] == UInt8(ascii: "-") ? -minutes : minutes
    }

    // MARK: uuid and bytes

    @inline(__always)
    static func hexNibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A uuid, hyphenated (8-4-4-4-12) or as 32 hex digits, into 16 bytes at `out`.
    static func uuid(_ b: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool {
        let hyphenated = b.count == 36
        guard hyphenated || b.count == 32 else { return false }
        var i = 0
        var o = 0
        while o < 16 {
            if hyphenated && (i == 8 || i == 13 || i == 18 || i == 23) {
                guard b[i] == UInt8(ascii: "-") else { return false }
                i += 1
            }
            guard let hi = hexNibble(b[i]), let lo = hexNibble(b[i + 1]) else { return false }
            out[o] = hi << 4 | lo
            o += 1
            i += 2
        }
        return true
    }

    /// Hex digits (optionally prefixed `\x`, as PostgreSQL writes bytea) appended to `out` as bytes.
    static func hex(_ b: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        var i = 0
        if b.count >= 2 && b[0] == UInt8(ascii: "\\") && b[1] == UInt8(ascii: "x") { i = 2 }
        guard (b.count - i) % 2 == 0 else { return false }
        while i < b.count {
            guard let hi = hexNibble(b[i]), let lo = hexNibble(b[i + 1]) else { return false }
            out.append(hi << 4 | lo)
            i += 2
        }
        return true
    }
}
