import Flow

/// PostgreSQL's binary `numeric` ↔ Flow's Int128-backed decimals, exactly.
///
/// Wire layout: int16 ndigits, int16 weight, uint16 sign, int16 dscale, then ndigits int16 digits in
/// base 10000, most significant first; the first digit is worth 10000^weight. Zero is ndigits 0.
/// Sign 0x0000 is positive, 0x4000 negative, 0xC000 NaN, 0xD000 +Infinity, 0xF000 -Infinity.
public enum PostgresNumeric {
    static let positive: UInt16 = 0x0000
    static let negative: UInt16 = 0x4000
    static let nan: UInt16 = 0xC000
    static let plusInfinity: UInt16 = 0xD000
    static let minusInfinity: UInt16 = 0xF000

    /// Why a wire numeric has no decimal value at the requested scale.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case nan
        case infinity(negative: Bool)
        /// Non-zero digits beyond the scale (never rounded).
        case tooManyFractionalDigits
        /// More than 38 digits at the scale.
        case overflow
        case malformed

        public var description: String {
            switch self {
            case .nan: "NaN is not a decimal value"
            case .infinity(let negative): "\(negative ? "-" : "")Infinity is not a decimal value"
            case .tooManyFractionalDigits: "the value has more fractional digits than the column's scale"
            case .overflow: "the value does not fit 38 digits"
            case .malformed: "malformed binary numeric"
            }
        }
    }

    /// The unscaled value of the wire numeric `p` at `scale` (0...38).
    public static func decode(_ p: UnsafeRawBufferPointer, scale: Int) throws(Failure) -> Int128 {
        guard p.count >= 8 else { throw .malformed }
        let ndigits = Int(Int16(bitPattern: p.loadUnaligned(fromByteOffset: 0, as: UInt16.self).bigEndian))
        let weight = Int(Int16(bitPattern: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self).bigEndian))
        let sign = p.loadUnaligned(fromByteOffset: 4, as: UInt16.self).bigEndian
        switch sign {
        case positive, negative: break
        case nan: throw .nan
        case plusInfinity: throw .infinity(negative: false)
        case minusInfinity: throw .infinity(negative: true)
        default: throw .malformed
        }
        guard ndigits >= 0, p.count == 8 + 2 * ndigits else { throw .malformed }
        // Horner over the digits: `acc` holds the digits so far in units of 10^accShift of the
        // unscaled result; the digit i is worth 10^(4 * (weight - i) + scale) unscaled.
        var acc: Int128 = 0
        var accShift = 0
        for i in 0..<ndigits {
            let d = Int(p.loadUnaligned(fromByteOffset: 8 + 2 * i, as: UInt16.self).bigEndian)
            guard d < 10_000 else { throw .malformed }
            if d == 0 { continue }
            let shift = 4 * (weight - i) + scale
            if shift >= 0 {
                acc = try add(times(acc, pow10: accShift - shift), Int128(d))
                accShift = shift
            } else {
                // Only the leading -shift digits of this group lie within the scale: the rest must be 0.
                let drop = -shift
                guard drop < 4 else { throw .tooManyFractionalDigits }
                let unit = Int(truncatingIfNeeded: DecimalMath.pow10[drop])
                guard d % unit == 0 else { throw .tooManyFractionalDigits }
                acc = try add(times(acc, pow10: accShift), Int128(d / unit))
                accShift = 0
            }
        }
        acc = try times(acc, pow10: accShift)
        guard DecimalMath.fits(acc, precision: LogicalType.maxDecimalPrecision) else { throw .overflow }
        return sign == negative ? -acc : acc
    }

    @inline(__always)
    static func times(_ v: Int128, pow10 n: Int) throws(Failure) -> Int128 {
        if v == 0 || n == 0 { return v }
        guard n <= 38 else { throw .overflow }
        let (r, o) = v.multipliedReportingOverflow(by: DecimalMath.pow10[n])
        if o { throw .overflow }
        return r
    }

    @inline(__always)
    static func add(_ a: Int128, _ b: Int128) throws(Failure) -> Int128 {
        let (r, o) = a.addingReportingOverflow(b)
        if o { throw .overflow }
        return r
    }

    /// Appends the wire numeric (without the length prefix) of the unscaled `value` at `scale`
    /// (0...38) to `out`, with dscale = `scale`, as PostgreSQL itself sends it: leading and trailing
    /// zero digits stripped, zero as ndigits 0 / weight 0. Returns the number of bytes appended.
    @discardableResult
    public static func encode(_ value: Int128, scale: Int, to out: inout [UInt8]) -> Int {
        precondition((0...38).contains(scale), "decimal scale \(scale) is outside 0...38")
        let m = value.magnitude
        let unit = UInt128(DecimalMath.pow10[scale])
        var integer = m / unit
        let fraction = m % unit
        let fractionGroups = (scale + 3) / 4
        // At most 10 integer groups (UInt128 < 10^39) and 10 fractional groups (scale ≤ 38).
        return withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 24) { groups in
            // Integer groups, least significant first, reversed below.
            var integerGroups = 0
            while integer > 0 {
                groups[integerGroups] = UInt16(truncatingIfNeeded: integer % 10_000)
                integer /= 10_000
                integerGroups += 1
            }
            var i = 0
            var j = integerGroups - 1
            while i < j {
                groups.swapAt(i, j)
                i += 1
                j -= 1
            }
            // Fractional group k covers digits 4k+1 ... 4k+4 after the point.
            for k in 0..<fractionGroups {
                let below = scale - 4 * (k + 1)
                let group: UInt128
                if below >= 0 {
                    group = fraction / UInt128(DecimalMath.pow10[below]) % 10_000
                } else {
                    group = fraction % UInt128(DecimalMath.pow10[scale - 4 * k]) * UInt128(DecimalMath.pow10[-below])
                }
                groups[integerGroups + k] = UInt16(truncatingIfNeeded: group)
            }
            var first = 0
            var end = integerGroups + fractionGroups
            while first < end && groups[first] == 0 { first += 1 }
            while end > first && groups[end - 1] == 0 { end -= 1 }
            let ndigits = end - first
            let weight = ndigits == 0 ? 0 : integerGroups - 1 - first
            let sign = value < 0 ? negative : positive
            appendBE(UInt16(ndigits), to: &out)
            appendBE(UInt16(bitPattern: Int16(weight)), to: &out)
            appendBE(sign, to: &out)
            appendBE(UInt16(scale), to: &out)
            for g in first..<end { appendBE(groups[g], to: &out) }
            return 8 + 2 * ndigits
        }
    }

    /// Appends the wire numeric of a `NumericText` value (any precision; NaN, ±Infinity) to `out`,
    /// with dscale = its fraction digits, as PostgreSQL sends it. Returns the bytes appended; nil
    /// (nothing appended) when `text` is not an exact decimal's text or exceeds numeric's limits
    /// (131072 digits before the point, 16383 after).
    public static func encode(text: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Int? {
        guard let parsed = NumericText.parse(text) else { return nil }
        switch parsed {
        case .nan, .infinity:
            let sign: UInt16 = if case .infinity(let negative) = parsed { negative ? 0xF000 : 0xD000 } else { 0xC000 }
            appendBE(0, to: &out)
            appendBE(0, to: &out)
            appendBE(sign, to: &out)
            appendBE(0, to: &out)
            return 8
        case .finite(let negative, let integer, let fraction):
            guard integer.count <= 131_072, fraction.count <= 16_383 else { return nil }
            // Base-10000 groups aligned at the point: integer groups from the right, fraction groups
            // from the left (the last padded with zeros).
            let integerGroups = (integer.count + 3) / 4
            let fractionGroups = (fraction.count + 3) / 4
            guard integerGroups + fractionGroups <= Int(Int16.max) else { return nil }
            func digit(_ position: Int) -> UInt16 {  // position 0 = the first digit of the padded integer part
                let integerStart = integerGroups * 4 - integer.count
                if position < integerGroups * 4 {
                    let k = position - integerStart
                    return k < 0 ? 0 : UInt16(text[integer.lowerBound + k] &- UInt8(ascii: "0"))
                }
                let k = position - integerGroups * 4
                return k < fraction.count ? UInt16(text[fraction.lowerBound + k] &- UInt8(ascii: "0")) : 0
            }
            func group(_ g: Int) -> UInt16 {
                let p = g * 4
                return digit(p) * 1000 + digit(p + 1) * 100 + digit(p + 2) * 10 + digit(p + 3)
            }
            var first = 0
            var end = integerGroups + fractionGroups
            while first < end && group(first) == 0 { first += 1 }
            while end > first && group(end - 1) == 0 { end -= 1 }
            let ndigits = end - first
            let weight = ndigits == 0 ? 0 : integerGroups - 1 - first
            appendBE(UInt16(ndigits), to: &out)
            appendBE(UInt16(bitPattern: Int16(weight)), to: &out)
            appendBE(negative && ndigits > 0 ? Self.negative : positive, to: &out)
            appendBE(UInt16(fraction.count), to: &out)
            for g in first..<end { appendBE(group(g), to: &out) }
            return 8 + 2 * ndigits
        }
    }

    @inline(__always)
    static func appendBE(_ v: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }
}
