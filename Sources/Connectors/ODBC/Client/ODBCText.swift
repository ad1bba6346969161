import CODBC

/// `SQLWCHAR` text: unixODBC's wide characters are 2-byte UTF-16 code units (`UInt16`), not
/// Swift's or glibc's 4-byte `wchar_t`.
enum ODBCText {
    /// `text` as NUL-terminated UTF-16.
    static func wide(_ text: String) -> [SQLWCHAR] { Array(text.utf16) + [0] }

    static func string(_ units: some Collection<SQLWCHAR>) -> String {
        String(decoding: units.prefix { $0 != 0 }, as: UTF16.self)
    }

    /// Appends `units` (UTF-16, surrogate pairs included) as UTF-8 to `out`; a lone surrogate
    /// becomes U+FFFD.
    @inline(__always)
    static func transcode(_ units: UnsafeBufferPointer<SQLWCHAR>, into out: inout [UInt8]) {
        var carry: SQLWCHAR?
        transcode(units, into: &out, carry: &carry, more: false)
    }

    /// As above, for text that arrives in pieces: a high surrogate ending a piece with `more` to
    /// come is held in `carry` and joined with the low surrogate that starts the next piece.
    static func transcode(_ units: UnsafeBufferPointer<SQLWCHAR>, into out: inout [UInt8], carry: inout SQLWCHAR?, more: Bool) {
        var i = 0
        var n = units.count
        if let high = carry {
            carry = nil
            if n > 0, units[0] >= 0xDC00, units[0] < 0xE000 {
                append(0x10000 + ((UInt32(high) - 0xD800) << 10) + (UInt32(units[0]) - 0xDC00), to: &out)
                i = 1
            } else {
                append(0xFFFD, to: &out)
            }
        }
        if more, n > i, units[n - 1] >= 0xD800, units[n - 1] < 0xDC00 {
            carry = units[n - 1]
            n -= 1
        }
        while i < n {
            var scalar = UInt32(units[i])
            i += 1
            if scalar < 0x80 {
                out.append(UInt8(scalar))
                continue
            }
            if scalar >= 0xD800 && scalar < 0xDC00 {
                if i < n, units[i] >= 0xDC00, units[i] < 0xE000 {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (UInt32(units[i]) - 0xDC00)
                    i += 1
                } else {
                    scalar = 0xFFFD
                }
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                scalar = 0xFFFD
            }
            append(scalar, to: &out)
        }
    }

    /// One scalar as UTF-8.
    @inline(__always)
    static func append(_ scalar: UInt32, to out: inout [UInt8]) {
        if scalar < 0x80 {
            out.append(UInt8(scalar))
        } else if scalar < 0x800 {
            out.append(UInt8(0xC0 | (scalar >> 6)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        } else if scalar < 0x10000 {
            out.append(UInt8(0xE0 | (scalar >> 12)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (scalar >> 18)))
            out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}
