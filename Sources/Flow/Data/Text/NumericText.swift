/// The text of a `numeric` value (an exact decimal of any precision), checked and made canonical.
///
/// Accepted: `[+|-](d+[.d*] | .d+)` and `NaN`, `Infinity`, `-Infinity` (also `inf`, `+inf`, any
/// case): PostgreSQL's `numeric` output, and what CSV and JSON writers produce for it. No exponent:
/// a number written `1e5` is not the text of an exact decimal here (read it as float, or cast).
///
/// Canonical form: no `+`, no leading zeros before the point (one `0` kept), the fraction digits as
/// written (their count is the value's scale, as PostgreSQL keeps it), `0` for a negative zero, and
/// `NaN`, `Infinity`, `-Infinity` spelled so. `1.50` stays `1.50`; `+007.5` becomes `7.5`; `.5`
/// becomes `0.5`; `5.` becomes `5`.
public enum NumericText {
    /// A parsed value: sign, integer digits (no leading zeros; empty for zero) and fraction digits,
    /// as ranges of the input; or one of the special values.
    public enum Parsed: Sendable, Equatable {
        case finite(negative: Bool, integer: Range<Int>, fraction: Range<Int>)
        case nan
        case infinity(negative: Bool)
    }

    /// Parses the whole of `text`; nil when it is not an exact decimal's text.
    public static func parse(_ text: UnsafeRawBufferPointer) -> Parsed? {
        var i = 0
        let n = text.count
        var negative = false
        if n > 0 && (text[0] == UInt8(ascii: "-") || text[0] == UInt8(ascii: "+")) {
            negative = text[0] == UInt8(ascii: "-")
            i = 1
        }
        if i < n, ScalarParsing.digit(text[i]) == nil, text[i] != UInt8(ascii: ".") {
            let word = UnsafeRawBufferPointer(rebasing: text[i...])
            if ScalarParsing.lowercased(word, equals: "nan") { return i == 0 ? .nan : nil }
            if ScalarParsing.lowercased(word, equals: "infinity") || ScalarParsing.lowercased(word, equals: "inf") {
                return .infinity(negative: negative)
            }
            return nil
        }
        let digitsStart = i
        while i < n, ScalarParsing.digit(text[i]) != nil { i += 1 }
        let sawIntegerDigit = i > digitsStart
        var integerStart = digitsStart
        while integerStart < i && text[integerStart] == UInt8(ascii: "0") { integerStart += 1 }
        let integer = integerStart..<i
        var fraction = i..<i
        if i < n && text[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < n, ScalarParsing.digit(text[i]) != nil { i += 1 }
            fraction = start..<i
        }
        guard i == n, sawIntegerDigit || !fraction.isEmpty else { return nil }
        return .finite(negative: negative, integer: integer, fraction: fraction)
    }

    /// The most bytes the canonical text of an input of `count` bytes takes.
    public static func canonicalCapacity(_ count: Int) -> Int { max(count + 1, 9) }

    /// Writes the canonical text of `text` to the start of `out` (at least
    /// `canonicalCapacity(text.count)` bytes) and returns its length; nil when `text` is not an exact
    /// decimal's text.
    public static func writeCanonical(_ text: UnsafeRawBufferPointer, to out: UnsafeMutableRawBufferPointer) -> Int? {
        guard let parsed = parse(text) else { return nil }
        var n = 0
        func put(_ byte: UInt8) {
            out[n] = byte
            n += 1
        }
        func put(_ word: StaticString) {
            for i in 0..<word.utf8CodeUnitCount { put(word.utf8Start[i]) }
        }
        switch parsed {
        case .nan: put("NaN")
        case .infinity(let negative): put(negative ? "-Infinity" : "Infinity")
        case .finite(let negative, let integer, let fraction):
            let isZero = integer.isEmpty && fraction.allSatisfy { text[$0] == UInt8(ascii: "0") }
            if negative && !isZero { put(UInt8(ascii: "-")) }
            if integer.isEmpty { put(UInt8(ascii: "0")) } else { for i in integer { put(text[i]) } }
            if !fraction.isEmpty {
                put(UInt8(ascii: "."))
                for i in fraction { put(text[i]) }
            }
        }
        return n
    }

    /// Appends the canonical text of `text` to `out`; false (appending nothing) when it is not an
    /// exact decimal's text.
    public static func appendCanonical(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: canonicalCapacity(text.count), alignment: 1) { buffer in
            guard let n = writeCanonical(text, to: buffer) else { return false }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            return true
        }
    }

    /// The canonical text of `text`, nil when it is not an exact decimal's text.
    public static func canonical(_ text: String) -> String? {
        var out: [UInt8] = []
        var text = text
        let ok = text.withUTF8 { appendCanonical(UnsafeRawBufferPointer($0), to: &out) }
        return ok ? String(decoding: out, as: UTF8.self) : nil
    }

    /// The digits a finite value needs before and after the point (leading zeros not counted;
    /// trailing fraction zeros counted, as they are the value's scale). nil for NaN and infinities.
    public static func digits(_ text: UnsafeRawBufferPointer) -> (integer: Int, fraction: Int)? {
        guard case .finite(_, let integer, let fraction)? = parse(text) else { return nil }
        let significantInteger = integer.drop { text[$0] == UInt8(ascii: "0") }.count
        return (significantInteger, fraction.count)
    }

    /// The value as an unscaled integer at `scale` when it has at most `scale` fraction digits
    /// (trailing zeros beyond it allowed) and fits `precision` digits: decimal(p,s) without rounding.
    public static func decimal(_ text: UnsafeRawBufferPointer, precision: Int, scale: Int) -> Int128? {
        guard case .finite? = parse(text) else { return nil }
        return ScalarParsing.decimal(text, precision: precision, scale: scale)
    }
}
