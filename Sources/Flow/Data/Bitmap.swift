/// A validity bitmap: bit i set means row i holds a value (is not NULL).
public struct Bitmap: Sendable, Hashable {
    public private(set) var words: [UInt64]
    public let count: Int

    public init(words: [UInt64], count: Int) {
        precondition(words.count * 64 >= count)
        self.words = words
        self.count = count
    }

    @inline(__always)
    public func isSet(_ i: Int) -> Bool {
        words[i >> 6] & (1 << UInt64(i & 63)) != 0
    }

    public var byteCount: Int { words.count * 8 }
}

/// Builds a validity bitmap lazily: no memory is used until the first NULL.
public struct BitmapBuilder: Sendable {
    private var words: [UInt64] = []
    private(set) var count = 0
    private(set) var nullCount = 0

    public init() {}

    @inline(__always)
    public mutating func append(_ valid: Bool) {
        if valid {
            if !words.isEmpty {
                if count & 63 == 0 { words.append(0) }
                words[count >> 6] |= 1 << UInt64(count & 63)
            }
        } else {
            if words.isEmpty { materialize() }
            if count & 63 == 0 { words.append(0) }
            nullCount += 1
        }
        count += 1
    }

    /// Sets all bits for the rows appended so far (all of which were valid).
    private mutating func materialize() {
        words = [UInt64](repeating: ~0, count: (count + 63) / 64)
        if count & 63 != 0 { words[words.count - 1] = (1 << UInt64(count & 63)) - 1 }
    }

    public var byteCount: Int { words.count * 8 }

    /// Drops the bits of rows `newCount...` (a row decoded half-way is taken back).
    public mutating func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate beyond the bitmap")
        if !words.isEmpty {
            for i in newCount..<count where words[i >> 6] & (1 << UInt64(i & 63)) == 0 { nullCount -= 1 }
            words.removeLast(words.count - (newCount + 63) / 64)
            if newCount & 63 != 0 { words[words.count - 1] &= (1 << UInt64(newCount & 63)) - 1 }
        }
        count = newCount
    }

    /// The bitmap, or nil when every row is valid.
    public mutating func finish() -> Bitmap? {
        defer { self = BitmapBuilder() }
        return nullCount == 0 ? nil : Bitmap(words: words, count: count)
    }
}
