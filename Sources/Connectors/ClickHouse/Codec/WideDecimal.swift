import Flow

/// A `numeric` value (exact decimal text, `NumericText`) as a ClickHouse Decimal's little-endian
/// two's-complement integer of 4, 8, 16 or 32 bytes (Decimal32 ... Decimal256), unscaled at the
/// target scale. Exact or nothing: no rounding, no NaN or infinities.
enum WideDecimal {
    /// Appends the `width`-byte unscaled value of `text` at `scale`; false (nothing appended) when
    /// the value has non-zero digits beyond `scale`, more than `precision` digits, or is NaN or
    /// infinite.
    static func append(_ text: UnsafeRawBufferPointer, precision: Int, scale: Int, width: Int, to out: inout [UInt8]) -> Bool {
        guard case .finite(let negative, let integer, let fraction)? = NumericText.parse(text) else { return false }
        for k in fraction where k - fraction.lowerBound >= scale {
            if text[k] != UInt8(ascii: "0") { return false }
        }
        guard integer.count + scale <= precision else { return false }
        // Magnitude in four 64-bit limbs, least significant first: integer digits, then the fraction
        // digits padded with zeros to `scale`.
        var limbs: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        func push(_ digit: UInt64) {
            var carry = digit
            withUnsafeMutableBytes(of: &limbs) { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for w in 0..<4 {
                    let (high, low) = words[w].multipliedFullWidth(by: 10)
                    let (sum, overflow) = low.addingReportingOverflow(carry)
                    words[w] = sum
                    carry = high &+ (overflow ? 1 : 0)
                }
            }
        }
        for k in integer { push(UInt64(text[k] &- UInt8(ascii: "0"))) }
        for s in 0..<scale {
            let k = fraction.lowerBound + s
            push(k < fraction.upperBound ? UInt64(text[k] &- UInt8(ascii: "0")) : 0)
        }
        if negative {  // two's complement: invert and add one
            withUnsafeMutableBytes(of: &limbs) { raw in
                let words = raw.bindMemory(to: UInt64.self)
                var carry: UInt64 = 1
                for w in 0..<4 {
                    let (sum, overflow) = (~words[w]).addingReportingOverflow(carry)
                    words[w] = sum
                    carry = overflow ? 1 : 0
                }
            }
        }
        withUnsafeBytes(of: &limbs) { raw in
            for w in 0..<4 {
                let word = raw.load(fromByteOffset: 8 * w, as: UInt64.self).littleEndian
                withUnsafeBytes(of: word) { out.append(contentsOf: $0) }
            }
            out.removeLast(32 - width)
        }
        return true
    }
}
