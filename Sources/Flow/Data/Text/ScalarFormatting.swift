/// Writers of the canonical text of scalar values, appended as UTF-8 to a reusable buffer; what
/// `ScalarParsing` reads back exactly.
///
/// Output grammar:
/// - int: `[-]d+`, no leading zeros.
/// - float: Swift's shortest round-trip `description` (`1.0`, `0.1`, `1e-05`, `-0.0`, `nan`, `inf`, `-inf`).
/// - decimal: `[-]d+` then, when `scale > 0`, `.` and exactly `scale` digits (`-0.05`, `0.00`).
/// - bool: `true` / `false`.
/// - date: `YYYY-MM-DD`, the year zero-padded to 4 digits (more digits past 9999, `-` before
///   negative years; such years do not parse back).
/// - time: `HH:MM:SS`, followed by `.ffffff` (always 6 digits) only when the microseconds are non-zero.
/// - timestamp: date `T` time, followed by `Z` with time zone (values are UTC).
/// - uuid: lowercase hex grouped 8-4-4-4-12. bytes: lowercase hex, two digits per byte.
public enum ScalarFormatting {
    @usableFromInline
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    @inlinable
    public static func appendBool(_ v: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: v ? "true".utf8 : "false".utf8)
    }

    @inlinable
    public static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        appendUnsigned(v.magnitude, to: &out)
    }

    @inlinable
    public static func appendUnsigned(_ v: UInt64, to out: inout [UInt8]) {
        if v < 10 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = v
            var i = 20
            while n > 0 {
                i -= 1
                digits[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n % 10)
                n /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[i..<20]))
        }
    }

    /// `value` (non-negative, below 10^width) as exactly `width` digits.
    @inlinable @inline(__always)
    static func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v / divisor))
            v %= divisor
            divisor /= 10
        }
    }

    public static func appendDouble(_ v: Double, to out: inout [UInt8]) {
        out.append(contentsOf: v.description.utf8)
    }

    public static func appendFloat(_ v: Float, to out: inout [UInt8]) {
        out.append(contentsOf: v.description.utf8)
    }

    /// The unscaled `value` at `scale` with exactly `scale` fractional digits.
    public static func appendDecimal(_ value: Int128, scale: Int, to out: inout [UInt8]) {
        // Digits least significant first, then reversed in place: no temporary allocation.
        let start = out.count
        var produced = 0
        var m = value.magnitude
        while m > UInt128(UInt64.max) {
            let (q, r) = m.quotientAndRemainder(dividingBy: 10)
            if produced == scale && scale > 0 { out.append(UInt8(ascii: ".")) }
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: r))
            produced += 1
            m = q
        }
        var small = UInt64(m)
        repeat {
            if produced == scale && scale > 0 { out.append(UInt8(ascii: ".")) }
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: small % 10))
            small /= 10
            produced += 1
        } while small > 0 || produced <= scale
        if value < 0 { out.append(UInt8(ascii: "-")) }
        // Swap in place by index: `out[start...].reverse()` would copy the slice.
        var i = start
        var j = out.count - 1
        while i < j {
            out.swapAt(i, j)
            i += 1
            j -= 1
        }
    }

    /// Days since 1970-01-01 as `YYYY-MM-DD`.
    public static func appendDate(days: Int32, to out: inout [UInt8]) {
        let (year, month, day) = CivilCalendar.civil(days: Int(days))
        if year < 0 { out.append(UInt8(ascii: "-")) }
        let y = abs(year)
        if y < 10_000 { appendPadded(y, width: 4, to: &out) } else { appendUnsigned(UInt64(y), to: &out) }
        out.append(UInt8(ascii: "-"))
        appendPadded(month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(day, width: 2, to: &out)
    }

    /// Microseconds since midnight as `HH:MM:SS[.ffffff]`.
    /// - Precondition: `micros` lies within one day (0 ..< 86 400 000 000); callers check untrusted values.
    public static func appendTime(micros: Int64, to out: inout [UInt8]) {
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

    /// Microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS[.ffffff][Z]`.
    public static func appendTimestamp(micros: Int64, withTimeZone: Bool, to out: inout [UInt8]) {
        let (days, timeOfDay) = CivilCalendar.split(micros: micros)
        appendDate(days: Int32(truncatingIfNeeded: days), to: &out)
        out.append(UInt8(ascii: "T"))
        appendTime(micros: timeOfDay, to: &out)
        if withTimeZone { out.append(UInt8(ascii: "Z")) }
    }

    /// - Precondition: `bytes` holds 16 bytes.
    public static func appendUUID(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for i in 0..<16 {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hexDigits[Int(bytes[i] >> 4)])
            out.append(hexDigits[Int(bytes[i] & 15)])
        }
    }

    public static func appendHex(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 15)])
        }
    }

    private static let base64Standard: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let base64URL: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `bytes` as base64 (RFC 4648): the standard alphabet with `=` padding (§4), or with
    /// `urlSafe` the URL alphabet without padding (§5, as JWTs write it).
    public static func appendBase64(_ bytes: UnsafeRawBufferPointer, urlSafe: Bool = false, to out: inout [UInt8]) {
        let alphabet = urlSafe ? base64URL : base64Standard
        let n = bytes.count
        var i = 0
        while i + 3 <= n {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
            out.append(alphabet[Int(v & 63)])
            i += 3
        }
        let rest = n - i
        guard rest > 0 else { return }
        let v = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
        out.append(alphabet[Int(v >> 18 & 63)])
        out.append(alphabet[Int(v >> 12 & 63)])
        if rest == 2 { out.append(alphabet[Int(v >> 6 & 63)]) }
        if !urlSafe { out.append(contentsOf: rest == 2 ? [UInt8(ascii: "=")] : [UInt8(ascii: "="), UInt8(ascii: "=")]) }
    }

    /// The canonical text of a scalar for messages and literals: `NULL` for null, strings and json
    /// as they are, bytes as `\x` + hex, a uuid of the wrong length as `uuid(N bytes)`.
    public static func text(of value: Value) -> String {
        var out: [UInt8] = []
        switch value {
        case .null: return "NULL"
        case .bool(let b): appendBool(b, to: &out)
        case .int(let v): appendInt(v, to: &out)
        case .float(let v): appendDouble(v, to: &out)
        case .decimal(let v, let s): appendDecimal(v, scale: s, to: &out)
        case .string(let s), .json(let s): return s
        case .bytes(let b):
            out.append(contentsOf: "\\x".utf8)
            b.withUnsafeBytes { appendHex($0, to: &out) }
        case .date(let d): appendDate(days: d, to: &out)
        case .time(let t): appendTime(micros: t, to: &out)
        case .timestamp(let t, let tz): appendTimestamp(micros: t, withTimeZone: tz, to: &out)
        case .uuid(let b):
            guard b.count == 16 else { return "uuid(\(b.count) bytes)" }
            b.withUnsafeBytes { appendUUID($0, to: &out) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
