/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01).
///
/// Howard Hinnant's `days_from_civil` / `civil_from_days`: exact for every Int32 day number, no
/// tables, no Foundation. Year 0 exists (1 BC) and negative years count backwards from it.
public enum CivilCalendar {
    public static let microsPerSecond: Int64 = 1_000_000
    public static let microsPerDay: Int64 = 86_400_000_000

    /// The day number of `year-month-day`. The caller validates the ranges (`month` in 1...12,
    /// `day` in 1...`daysInMonth(year:month:)`).
    @inlinable
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthFromMarch = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date of day number `days`.
    @inlinable
    public static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    @inlinable
    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// 28...31; `month` must be in 1...12.
    @inlinable
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Floor division and the matching non-negative remainder (`b > 0`): splits negative counts
    /// the calendar way (-1 µs is the last microsecond of the previous day).
    @inlinable
    public static func floorDivMod(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        var q = a / b
        var r = a % b
        if r < 0 {
            q -= 1
            r += b
        }
        return (q, r)
    }

    /// Splits microseconds since the epoch into a day number and microseconds into that day (floored).
    @inlinable
    public static func split(micros: Int64) -> (days: Int64, timeOfDay: Int64) {
        let (days, rest) = floorDivMod(micros, microsPerDay)
        return (days, rest)
    }
}
