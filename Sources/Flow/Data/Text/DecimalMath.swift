/// Exact arithmetic on Int128-backed decimals (unscaled value + scale).
public enum DecimalMath {
    /// `pow10[n]` is 10^n for n in 0...38.
    public static let pow10: [Int128] = {
        var table: [Int128] = [1]
        for _ in 1...38 { table.append(table[table.count - 1] * 10) }
        return table
    }()

    /// Whether `value` has at most `precision` digits (precision is capped at 38).
    @inlinable
    public static func fits(_ value: Int128, precision: Int) -> Bool {
        precision < 0 ? false : value.magnitude < pow10[min(precision, 38)].magnitude
    }

    /// `value` (at scale `from`) at scale `to`; nil when that would drop non-zero digits or overflow Int128.
    @inlinable
    public static func rescale(_ value: Int128, from: Int, to: Int) -> Int128? {
        if from == to { return value }
        if to > from {
            guard to - from <= 38 else { return value == 0 ? 0 : nil }
            let (r, overflow) = value.multipliedReportingOverflow(by: pow10[to - from])
            return overflow ? nil : r
        }
        guard from - to <= 38 else { return value == 0 ? 0 : nil }
        let (q, r) = value.quotientAndRemainder(dividingBy: pow10[from - to])
        return r == 0 ? q : nil
    }

    /// Orders `x` (at scale `sx`) against `y` (at scale `sy`) exactly: -1, 0 or 1.
    public static func compare(_ x: Int128, _ sx: Int, _ y: Int128, _ sy: Int) -> Int {
        if sx == sy { return x < y ? -1 : (x == y ? 0 : 1) }
        if sx < sy {
            return -compare(y, sy, x, sx)
        }
        // sx > sy: compare x / 10^(sx-sy) with y without overflow.
        let (q, r) = sx - sy <= 38 ? x.quotientAndRemainder(dividingBy: pow10[sx - sy]) : (0, x)
        if q != y { return q < y ? -1 : 1 }
        return r == 0 ? 0 : (r < 0 ? -1 : 1)
    }
}
