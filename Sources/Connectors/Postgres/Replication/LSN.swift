/// A PostgreSQL write-ahead log position (`pg_lsn`): a 64-bit byte offset into the WAL.
///
/// Text form is two hex numbers, the high and low 32 bits, separated by a slash: `16/B374D848`.
/// Parsing accepts 1 to 8 hex digits of either case on each side (as the server does); formatting
/// writes uppercase without leading zeros, like the server (`0/0` for `invalid`).
public struct LSN: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) {
        self.value = value
    }

    /// `InvalidXLogRecPtr`: "no position" (the server sends it for a slot that has not confirmed anything).
    public static let invalid = LSN(0)

    /// Parses `X/Y`; nil when the text is not an LSN.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard let slash = utf8.firstIndex(of: UInt8(ascii: "/")),
            let high = Self.hex32(utf8[..<slash]), let low = Self.hex32(utf8[(slash + 1)...])
        else { return nil }
        value = UInt64(high) << 32 | UInt64(low)
    }

    private static func hex32(_ digits: ArraySlice<UInt8>) -> UInt32? {
        guard (1...8).contains(digits.count) else { return nil }
        var v: UInt32 = 0
        for c in digits {
            guard let d = hexValue(c) else { return nil }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    public static func < (a: LSN, b: LSN) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let lsn = LSN(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an LSN: \(text)")
        }
        self = lsn
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// PostgreSQL's timestamps on the replication protocol: microseconds since 2000-01-01 00:00 UTC.
public enum PostgresEpoch {
    /// Microseconds from 1970-01-01 to 2000-01-01.
    public static let unixOffsetMicros: Int64 = 946_684_800_000_000

    /// Unix microseconds of a PostgreSQL-epoch timestamp.
    @inline(__always)
    public static func unixMicros(fromPostgres micros: Int64) -> Int64 { micros &+ unixOffsetMicros }

    /// The PostgreSQL-epoch timestamp of Unix microseconds.
    @inline(__always)
    public static func postgresMicros(fromUnix micros: Int64) -> Int64 { micros &- unixOffsetMicros }
}
