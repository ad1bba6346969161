import Flow

/// RFC 3339 `date-time` as JSON Schema's `format` means it: `full-date "T" full-time`, the zone
/// required (`Z` or `±HH:MM`), seconds required, any number of fraction digits, second 60 allowed
/// (a leap second); `t` and `z` in either case.
enum RFC3339 {
    static func isDateTime(_ b: UnsafeRawBufferPointer) -> Bool {
        let n = b.count
        guard n >= 20, ScalarParsing.date(UnsafeRawBufferPointer(rebasing: b[0..<10])) != nil,
            b[10] | 0x20 == UInt8(ascii: "t"),
            let hour = two(b, 11), hour < 24, b[13] == UInt8(ascii: ":"),
            let minute = two(b, 14), minute < 60, b[16] == UInt8(ascii: ":"),
            let second = two(b, 17), second <= 60
        else { return false }
        var i = 19
        if b[i] == UInt8(ascii: ".") {
            i += 1
            let digits = i
            while i < n, ScalarParsing.digit(b[i]) != nil { i += 1 }
            guard i > digits else { return false }
        }
        guard i < n else { return false }
        if b[i] | 0x20 == UInt8(ascii: "z") { return i + 1 == n }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), n - i == 6,
            let oh = two(b, i + 1), oh < 24, b[i + 3] == UInt8(ascii: ":"), let om = two(b, i + 4), om < 60
        else { return false }
        return true
    }

    private static func two(_ b: UnsafeRawBufferPointer, _ at: Int) -> Int? {
        guard let hi = ScalarParsing.digit(b[at]), let lo = ScalarParsing.digit(b[at + 1]) else { return nil }
        return Int(hi) * 10 + Int(lo)
    }
}
