import Flow

/// Fixed-width text of temporal values, for String columns that stand in for types a server lacks
/// (timestamps on ClickHouse 18.16, times everywhere). Fixed width makes text order chronological.
///
/// - timestamp: `YYYY-MM-DD HH:MM:SS.ffffff` (26 bytes, always six fractional digits; years 0000–9999).
/// - time: `HH:MM:SS.ffffff` (15 bytes).
public enum ClickHouseText {
    public static let timestampLength = 26
    public static let timeLength = 15

    /// Appends the text of `micros` since the epoch; false (nothing appended) when the year is outside 0...9999.
    @discardableResult
    public static func appendTimestamp(micros: Int64, to out: inout [UInt8]) -> Bool {
        let (days, timeOfDay) = CivilCalendar.split(micros: micros)
        guard days > -800_000, days < 3_000_000 else { return false }
        let (year, month, day) = CivilCalendar.civil(days: Int(days))
        guard (0...9999).contains(year) else { return false }
        digits(year, 4, &out)
        out.append(UInt8(ascii: "-"))
        digits(month, 2, &out)
        out.append(UInt8(ascii: "-"))
        digits(day, 2, &out)
        out.append(UInt8(ascii: " "))
        appendTime(micros: timeOfDay, to: &out)
        return true
    }

    /// Appends `HH:MM:SS.ffffff`; `micros` must lie within one day.
    public static func appendTime(micros: Int64, to out: inout [UInt8]) {
        let seconds = Int(micros / 1_000_000)
        digits(seconds / 3600, 2, &out)
        out.append(UInt8(ascii: ":"))
        digits(seconds / 60 % 60, 2, &out)
        out.append(UInt8(ascii: ":"))
        digits(seconds % 60, 2, &out)
        out.append(UInt8(ascii: "."))
        digits(Int(micros % 1_000_000), 6, &out)
    }

    @inline(__always)
    private static func digits(_ value: Int, _ width: Int, _ out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v / divisor))
            v %= divisor
            divisor /= 10
        }
    }
}
