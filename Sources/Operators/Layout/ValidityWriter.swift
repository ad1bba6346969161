import Flow

/// Appends runs of validity bits a word at a time (slice and concatenate copy bitmaps with it).
///
/// `finish()` returns nil when every appended bit is set, keeping `Column`'s "nil when no NULL" rule.
struct ValidityWriter {
    private var words: [UInt64] = []
    private var count = 0
    private var sawNull = false

    init(reservingCapacity rows: Int = 0) {
        words.reserveCapacity((rows + 63) / 64)
    }

    /// Appends bits `range` of `bitmap`; a nil bitmap means all valid.
    mutating func append(from bitmap: Bitmap?, range: Range<Int>) {
        var start = range.lowerBound
        while start < range.upperBound {
            let n = min(64, range.upperBound - start)
            let mask: UInt64 = n == 64 ? ~0 : (1 << UInt64(n)) - 1
            let bits: UInt64
            if let bitmap {
                bits = ValidityWriter.extract(bitmap, at: start, count: n, mask: mask)
                if bits != mask { sawNull = true }
            } else {
                bits = mask
            }
            appendBits(bits, count: n)
            start += n
        }
    }

    @inline(__always)
    private mutating func appendBits(_ bits: UInt64, count n: Int) {
        let shift = count & 63
        if shift == 0 {
            words.append(bits)
        } else {
            words[words.count - 1] |= bits << UInt64(shift)
            if shift + n > 64 { words.append(bits >> UInt64(64 - shift)) }
        }
        count += n
    }

    @inline(__always)
    private static func extract(_ bitmap: Bitmap, at start: Int, count n: Int, mask: UInt64) -> UInt64 {
        let word = start >> 6
        let shift = start & 63
        var bits = bitmap.words[word] >> UInt64(shift)
        if shift != 0 && shift + n > 64 { bits |= bitmap.words[word + 1] << UInt64(64 - shift) }
        return bits & mask
    }

    mutating func finish() -> Bitmap? {
        sawNull ? Bitmap(words: words, count: count) : nil
    }
}
