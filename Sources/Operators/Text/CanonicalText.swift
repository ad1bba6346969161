import Flow

/// The canonical text of each logical type, appended as UTF-8 to a reusable buffer.
///
/// - int: decimal digits with a leading `-` when negative.
/// - float: Swift's shortest round-trip `description` (`1.0`, `0.1`, `1e-05`, `nan`, `inf`).
/// - decimal: exactly `scale` digits after the point (none and no point when scale is 0).
/// - date: `YYYY-MM-DD` (year zero-padded to 4 digits, `-` prefix before year 0).
/// - time: `HH:MM:SS.ffffff`.
/// - timestamp: `YYYY-MM-DDTHH:MM:SS.ffffff`, followed by `Z` for timestamptz.
/// - uuid: 8-4-4-4-12 lowercase hex. bool: `true` / `false`.
enum CanonicalText {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func append(_ value: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: value ? "true".utf8 : "false".utf8)
    }

    static func append(_ value: Int64, to out: inout [UInt8]) {
        let start = out.count
        var m = value.magnitude
        repeat {
            out.append(UInt8(truncatingIfNeeded: m % 10) &+ 48)
            m /= 10
        } while m > 0
        if value < 0 { out.append(UInt8(ascii: "-")) }
        out[start...].reverse()
    }

    static func append(_ value: Double, to out: inout [UInt8]) {
        out.append(contentsOf: value.description.utf8)
    }

    static func append(_ value: Float, to out: inout [UInt8]) {
        out.append(contentsOf: value.description.utf8)
    }

    static func append(decimal value: Int128, scale: Int, to out: inout [UInt8]) {
        let start = out.count
        var m = value.magnitude
        var produced = 0
        repeat {
            if produced == scale && scale > 0 { out.append(UInt8(ascii: ".")) }
            out.append(UInt8(truncatingIfNeeded: m % 10) &+ 48)
            m /= 10
            produced += 1
        } while m > 0 || produced <= scale
        if value < 0 { out.append(UInt8(ascii: "-")) }
        out[start...].reverse()
    }

    static func append(date days: Int32, to out: inout [UInt8]) {
        let (year, month, day) = CivilCalendar.civil(days: Int(days))
        if year < 0 { out.append(UInt8(ascii: "-")) }
        let y = abs(year)
        if y < 10_000 { appendDigits(y, width: 4, to: &out) } else { append(Int64(y), to: &out) }
        out.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2, to: &out)
    }

    /// - Precondition: `micros` lies within one day.
    static func append(time micros: Int64, to out: inout [UInt8]) {
        let seconds = Int(micros / CivilCalendar.microsPerSecond)
        appendDigits(seconds / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(seconds / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(seconds % 60, width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        appendDigits(Int(micros % CivilCalendar.microsPerSecond), width: 6, to: &out)
    }

    static func append(timestamp micros: Int64, withTimeZone: Bool, to out: inout [UInt8]) {
        let (days, timeOfDay) = CivilCalendar.split(micros: micros)
        append(date: Int32(truncatingIfNeeded: days), to: &out)
        out.append(UInt8(ascii: "T"))
        append(time: timeOfDay, to: &out)
        if withTimeZone { out.append(UInt8(ascii: "Z")) }
    }

    /// - Precondition: `bytes` holds 16 bytes.
    static func append(uuid bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for i in 0..<16 {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hexDigits[Int(bytes[i] >> 4)])
            out.append(hexDigits[Int(bytes[i] & 15)])
        }
    }

    @inline(__always)
    private static func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            out.append(UInt8(truncatingIfNeeded: v / divisor) &+ 48)
            v %= divisor
            divisor /= 10
        }
    }

    /// The canonical text of a scalar; strings and json as they are, bytes as `\x` + hex.
    static func text(of value: Value) -> String {
        var out: [UInt8] = []
        switch value {
        case .null: return "NULL"
        case .bool(let b): append(b, to: &out)
        case .int(let v): append(v, to: &out)
        case .float(let v): append(v, to: &out)
        case .decimal(let v, let s): append(decimal: v, scale: s, to: &out)
        case .string(let s), .json(let s): return s
        case .bytes(let b):
            out.append(contentsOf: "\\x".utf8)
            for byte in b {
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 15)])
            }
        case .date(let d): append(date: d, to: &out)
        case .time(let t): append(time: t, to: &out)
        case .timestamp(let t, let tz): append(timestamp: t, withTimeZone: tz, to: &out)
        case .uuid(let b):
            guard b.count == 16 else { return "uuid(\(b.count) bytes)" }
            b.withUnsafeBytes { append(uuid: $0, to: &out) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
