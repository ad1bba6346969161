/// Strict parsers for the canonical text of scalar values, straight from UTF-8 bytes.
///
/// The one implementation behind the file codecs (CSV, JSON Lines), the incremental cursor, casts
/// and filter literals. Every parser reads the *whole* buffer and returns nil when any byte does not
/// belong to the value (no surrounding whitespace; callers trim when their format allows padding)
/// or when the value cannot be stored without losing digits. Callers turn nil into a `DponeError`
/// that names the value. Nothing here allocates, except the float fallback noted below.
///
/// Accepted grammar (`d` is an ASCII digit, `h` a hex digit of either case, `[x]` optional):
/// - int64: `[+|-]d+`, range-checked (leading zeros allowed).
/// - float: `[+|-](d+[.d*] | .d+)[(e|E)[+|-]d+]`, or `[+|-]` followed by `nan`, `inf` or
///   `infinity` in any case. Correctly rounded: exact fast path, else the standard library's parser.
///   No hex floats, no `nan(...)` payloads.
/// - decimal: `[+|-](d+[.d*] | .d+)[(e|E)[+|-]d+]`, exact into an Int128 unscaled value at `scale`:
///   digits beyond `scale` must be zeros (never rounded); the value must fit Int128 (and `precision`
///   digits when given).
/// - bool: `true`, `false`, `t`, `f`, `1`, `0`, any case.
/// - date: `YYYY-MM-DD` (4-digit year 0000...9999, valid month and day incl. leap years).
/// - time: `HH:MM[:SS[.f{1,9}]]`, `HH` 00...23, `MM` and `SS` 00...59; fraction digits beyond the
///   6th (microseconds) must be zeros.
/// - timestamp: `date[(T|t| )time[zone]]` where zone is `Z`, `z`, `±HH`, `±HHMM` or `±HH:MM` with
///   `HH` 00...18 and `MM` 00...59. An offset is subtracted, giving UTC microseconds since the
///   epoch; without a zone the reading is taken as is.
/// - uuid: 32 hex digits, plain or grouped 8-4-4-4-12 with `-`.
/// - hex bytes: `[\x]h*` with an even number of digits (PostgreSQL's bytea hex output).
public enum ScalarParsing {
    public typealias Bytes = UnsafeRawBufferPointer

    /// The value of an ASCII digit.
    @inlinable @inline(__always)
    public static func digit(_ b: UInt8) -> UInt8? {
        let d = b &- UInt8(ascii: "0")
        return d < 10 ? d : nil
    }

    /// The value of an ASCII hex digit of either case.
    @inlinable @inline(__always)
    public static func hexNibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }

    /// Whether `b`, ASCII-lowercased, equals `word` (which must be lowercase letters).
    @inlinable @inline(__always)
    public static func lowercased(_ b: Bytes, equals word: StaticString) -> Bool {
        guard b.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for i in 0..<b.count where b[i] | 0x20 != w[i] { return false }
        return true
    }

    // MARK: integers

    /// `[+|-]d+` within Int64.
    @inlinable
    public static func int64(_ b: Bytes) -> Int64? {
        let n = b.count
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if b[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
        } else if b[0] == UInt8(ascii: "+") {
            i = 1
        }
        guard i < n else { return nil }
        var v: UInt64 = 0
        while i < n {
            guard let d = digit(b[i]) else { return nil }
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

    @usableFromInline
    static let exactPowersOfTen: [Double] = (0...22).map { e in
        var v = 1.0
        for _ in 0..<e { v *= 10 }
        return v
    }
    @usableFromInline
    static let exactPowersOfTenFloat: [Float] = (0...10).map { e in
        var v: Float = 1
        for _ in 0..<e { v *= 10 }
        return v
    }

    /// The shape of fixed-point text `[+|-]d*[.d*]` (at least one digit, no exponent): its
    /// significant integer digits (leading zeros dropped) and its fraction digits; nil otherwise.
    public static func fixedPoint(_ b: Bytes) -> (integerDigits: Int, scale: Int)? {
        let n = b.count
        var i = 0
        if i < n, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { i += 1 }
        var integerDigits = 0
        var digits = 0
        while i < n, let d = digit(b[i]) {
            if integerDigits > 0 || d != 0 { integerDigits += 1 }
            digits += 1
            i += 1
        }
        var scale = 0
        if i < n, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, digit(b[i]) != nil {
                scale += 1
                i += 1
            }
        }
        guard i == n, digits + scale > 0 else { return nil }
        return (integerDigits, scale)
    }

    /// The decimal pieces of a float literal: `mantissa * 10^exponent`, exact when not `truncated`
    /// (more than 19 significant digits).
    public struct DecimalFloat: Sendable, Hashable {
        public var negative = false
        public var mantissa: UInt64 = 0
        public var exponent = 0
        public var truncated = false

        @inlinable
        public init() {}
    }

    public enum FloatSyntax: Sendable, Hashable {
        case finite(DecimalFloat)
        case nan
        case infinity(negative: Bool)
    }

    /// Validates the float grammar and gathers up to 19 significant digits.
    public static func floatSyntax(_ b: Bytes) -> FloatSyntax? {
        let n = b.count
        guard n > 0 else { return nil }
        var f = DecimalFloat()
        var i = 0
        if b[0] == UInt8(ascii: "-") {
            f.negative = true
            i = 1
        } else if b[0] == UInt8(ascii: "+") {
            i = 1
        }
        guard i < n else { return nil }
        if digit(b[i]) == nil && b[i] != UInt8(ascii: ".") {
            let word = Bytes(rebasing: b[i...])
            if lowercased(word, equals: "nan") { return .nan }
            if lowercased(word, equals: "inf") || lowercased(word, equals: "infinity") {
                return .infinity(negative: f.negative)
            }
            return nil
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
        if i < n {
            guard let e = exponent(b, &i) else { return nil }
            f.exponent += e
        }
        return .finite(f)
    }

    /// `(e|E)[+|-]d+` at `i` through the end of `b`, clamped to ±100 000.
    @usableFromInline
    static func exponent(_ b: Bytes, _ i: inout Int) -> Int? {
        let n = b.count
        guard i < n, b[i] | 0x20 == UInt8(ascii: "e") else { return nil }
        i += 1
        var negative = false
        if i < n && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) {
            negative = b[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < n else { return nil }
        var e = 0
        while i < n {
            guard let d = digit(b[i]) else { return nil }
            if e < 100_000 { e = e * 10 + Int(d) }
            i += 1
        }
        return negative ? -e : e
    }

    /// A Double, correctly rounded. Allocates only for literals off the exact fast path
    /// (more than 15-16 significant digits or a decimal exponent beyond ±22).
    public static func double(_ b: Bytes) -> Double? {
        binaryFloat(b, exactPowersOfTen: exactPowersOfTen)
    }

    /// A Float, correctly rounded (parsed directly, never through Double).
    public static func float(_ b: Bytes) -> Float? {
        binaryFloat(b, exactPowersOfTen: exactPowersOfTenFloat)
    }

    /// Clinger's fast path: a mantissa and a power of ten both exact in `T` give a correctly
    /// rounded quotient or product; anything else goes to the standard library's parser.
    static func binaryFloat<T: BinaryFloatingPoint & LosslessStringConvertible>(
        _ b: Bytes, exactPowersOfTen powers: [T]
    ) -> T? {
        guard let syntax = floatSyntax(b) else { return nil }
        switch syntax {
        case .nan: return .nan
        case .infinity(let negative): return negative ? -.infinity : .infinity
        case .finite(let f):
            if f.mantissa == 0 { return f.negative ? -0.0 : 0.0 }
            let exactMantissa: UInt64 = 1 << (T.significandBitCount + 1)
            let exactExponent = powers.count - 1
            if !f.truncated && f.mantissa <= exactMantissa && f.exponent >= -exactExponent && f.exponent <= exactExponent {
                var v = T(f.mantissa)
                v = f.exponent < 0 ? v / powers[-f.exponent] : v * powers[f.exponent]
                return f.negative ? -v : v
            }
            return T(String(decoding: b, as: UTF8.self))
        }
    }

    // MARK: decimal

    /// The unscaled value of `b` at `scale`; nil when the text is not a decimal, when non-zero digits
    /// would be dropped, or when the value overflows Int128. Precision is the caller's check (or use
    /// `decimal(_:precision:scale:)`).
    @inlinable
    public static func decimal(_ b: Bytes, scale: Int) -> Int128? {
        let n = b.count
        var i = 0
        var negative = false
        if n > 0 && (b[0] == UInt8(ascii: "-") || b[0] == UInt8(ascii: "+")) {
            negative = b[0] == UInt8(ascii: "-")
            i = 1
        }
        var mantissa: Int128 = 0
        // Zeros after the last non-zero digit, multiplied in only when a non-zero digit follows, so
        // `1.50000…` or `1000…e-40` never overflow on digits that do not change the value.
        var zeros = 0
        var afterPoint = 0
        var sawDigit = false
        var inFraction = false
        while i < n {
            let c = b[i]
            if let d = digit(c) {
                sawDigit = true
                if inFraction { afterPoint += 1 }
                if d == 0 {
                    if mantissa != 0 { zeros += 1 }
                } else {
                    guard zeros < 38 else { return nil }
                    let (m, o1) = mantissa.multipliedReportingOverflow(by: DecimalMath.pow10[zeros + 1])
                    let (a, o2) = m.addingReportingOverflow(Int128(d))
                    if o1 || o2 { return nil }
                    mantissa = a
                    zeros = 0
                }
            } else if c == UInt8(ascii: ".") && !inFraction {
                inFraction = true
            } else {
                break
            }
            i += 1
        }
        guard sawDigit else { return nil }
        var e = 0
        if i < n {
            guard let x = exponent(b, &i) else { return nil }
            e = x
        }
        guard let scaled = DecimalMath.rescale(mantissa, from: afterPoint - zeros - e, to: scale) else { return nil }
        return negative ? -scaled : scaled
    }

    /// `decimal(_:scale:)` that also rejects values with more than `precision` digits
    /// (more than `precision - scale` integer digits).
    @inlinable
    public static func decimal(_ b: Bytes, precision: Int, scale: Int) -> Int128? {
        guard let v = decimal(b, scale: scale), DecimalMath.fits(v, precision: precision) else { return nil }
        return v
    }

    // MARK: bool

    /// `true`, `false`, `t`, `f`, `1`, `0`, any case.
    @inlinable
    public static func bool(_ b: Bytes) -> Bool? {
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

    // MARK: temporal

    /// `count` digits at `at` (the caller checked the bounds).
    @inlinable @inline(__always)
    static func fixedDigits(_ b: Bytes, _ at: Int, _ count: Int) -> Int? {
        var v = 0
        for i in at..<at + count {
            guard let d = digit(b[i]) else { return nil }
            v = v * 10 + Int(d)
        }
        return v
    }

    /// `YYYY-MM-DD` as days since 1970-01-01.
    @inlinable
    public static func date(_ b: Bytes) -> Int32? {
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            let y = fixedDigits(b, 0, 4), let m = fixedDigits(b, 5, 2), let d = fixedDigits(b, 8, 2),
            (1...12).contains(m), d >= 1, d <= CivilCalendar.daysInMonth(year: y, month: m)
        else { return nil }
        return Int32(CivilCalendar.days(year: y, month: m, day: d))
    }

    /// `HH:MM[:SS[.f{1,9}]]` as microseconds since midnight.
    @inlinable
    public static func time(_ b: Bytes) -> Int64? {
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
                // A point, then 1 to 9 digits (nanoseconds at most).
                guard b[8] == UInt8(ascii: "."), n > 9, n <= 18 else { return nil }
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
                while digits < 6 {
                    micros *= 10
                    digits += 1
                }
            }
        }
        return Int64(h * 3600 + m * 60 + seconds) * CivilCalendar.microsPerSecond + micros
    }

    /// A timestamp as UTC microseconds since the epoch, and whether the text carried a zone.
    /// With `requireTime`, a bare date is rejected (schema inference tells dates from timestamps).
    @inlinable
    public static func timestamp(_ b: Bytes, requireTime: Bool = false) -> (micros: Int64, hasZone: Bool)? {
        let n = b.count
        guard n >= 10, let days = date(Bytes(rebasing: b[0..<10])) else { return nil }
        let midnight = Int64(days) * CivilCalendar.microsPerDay
        if n == 10 { return requireTime ? nil : (midnight, false) }
        let separator = b[10]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " ")
        else { return nil }
        var j = 11
        while j < n, digit(b[j]) != nil || b[j] == UInt8(ascii: ":") || b[j] == UInt8(ascii: ".") { j += 1 }
        guard let clock = time(Bytes(rebasing: b[11..<j])) else { return nil }
        let local = midnight + clock
        if j == n { return (local, false) }
        guard let offsetMinutes = zoneOffsetMinutes(Bytes(rebasing: b[j...])) else { return nil }
        return (local - Int64(offsetMinutes) * 60 * CivilCalendar.microsPerSecond, true)
    }

    /// `Z`, `z`, `±HH`, `±HHMM` or `±HH:MM` (`HH` at most 18) as minutes east of UTC.
    @inlinable
    public static func zoneOffsetMinutes(_ b: Bytes) -> Int? {
        let n = b.count
        if n == 1 && (b[0] == UInt8(ascii: "Z") || b[0] == UInt8(ascii: "z")) { return 0 }
        guard n == 3 || n == 5 || n == 6, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-"),
            let h = fixedDigits(b, 1, 2), h <= 18
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

    /// A uuid, grouped 8-4-4-4-12 or as 32 hex digits, written as 16 bytes into `out` (16 bytes long).
    /// Returns false, with `out` partly written, when `b` is not a uuid.
    @inlinable
    public static func uuid(_ b: Bytes, into out: UnsafeMutableRawBufferPointer) -> Bool {
        let grouped = b.count == 36
        guard grouped || b.count == 32 else { return false }
        var i = 0
        for o in 0..<16 {
            if grouped && (i == 8 || i == 13 || i == 18 || i == 23) {
                guard b[i] == UInt8(ascii: "-") else { return false }
                i += 1
            }
            guard let hi = hexNibble(b[i]), let lo = hexNibble(b[i + 1]) else { return false }
            out[o] = hi << 4 | lo
            i += 2
        }
        return true
    }

    /// Hex digits (optionally prefixed `\x`, as PostgreSQL writes bytea) appended to `out` as bytes.
    /// Returns false when `b` is not hex; `out` may then hold part of the bytes.
    public static func hex(_ b: Bytes, into out: inout [UInt8]) -> Bool {
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
