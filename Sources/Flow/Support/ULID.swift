import Foundation

/// ULIDs: 26 characters of Crockford base32 (`0-9A-Z` without I, L, O, U) encoding a 48-bit
/// millisecond Unix timestamp followed by 80 random bits from `SystemRandomNumberGenerator`.
/// They sort by creation time to the millisecond; order within one millisecond is random.
public struct ULID: Sendable {
    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func make(now: Date = Date()) -> String {
        make(milliseconds: UInt64(max(0, (now.timeIntervalSince1970 * 1000).rounded(.down))))
    }

    /// - Precondition: `milliseconds` < 2^48.
    public static func make(milliseconds: UInt64) -> String {
        var random = SystemRandomNumberGenerator()
        return make(milliseconds: milliseconds, using: &random)
    }

    static func make(milliseconds: UInt64, using random: inout some RandomNumberGenerator) -> String {
        precondition(milliseconds < 1 << 48, "a ULID timestamp has 48 bits")
        // 128 bits: timestamp in the top 48, randomness in the low 80; 26 chars x 5 bits = 130 bits.
        let value = UInt128(milliseconds) << 80 | UInt128(random.next() as UInt64) << 16
            | UInt128(random.next() as UInt16)
        var chars = [UInt8](repeating: 0, count: 26)
        for i in 0..<26 {
            let shift = UInt128(125 - 5 * i)
            chars[i] = alphabet[Int(truncatingIfNeeded: (value >> shift) & 31)]
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// The millisecond timestamp of a ULID, or nil when `text` is not a ULID.
    public static func milliseconds(of text: String) -> UInt64? {
        let chars = Array(text.utf8)
        guard chars.count == 26, chars[0] <= UInt8(ascii: "7") else { return nil }
        var value: UInt128 = 0
        for c in chars {
            guard let digit = alphabet.firstIndex(of: c) else { return nil }
            value = value << 5 | UInt128(digit)
        }
        return UInt64(truncatingIfNeeded: value >> 80)
    }
}
