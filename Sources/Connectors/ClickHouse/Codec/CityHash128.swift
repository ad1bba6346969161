/// CityHash128 as of CityHash v1.0.2 — the version ClickHouse vendors (contrib/cityhash102) and uses
/// for the checksums of its compressed blocks. Later CityHash releases changed the function; this one
/// must stay as it is. Written from the algorithm's description (Geoff Pike and Jyrki Alakuijala,
/// MIT licence), all arithmetic wrapping modulo 2^64, loads little-endian.
public enum CityHash128 {
    /// The hash as CityHash's `uint128` pair: `low` is `.first`, `high` is `.second`. ClickHouse
    /// writes `low` then `high`, each little-endian.
    public struct Value: Sendable, Hashable {
        public var low: UInt64
        public var high: UInt64

        public init(low: UInt64, high: UInt64) {
            self.low = low
            self.high = high
        }

        /// The 16 bytes ClickHouse writes before a compressed block.
        public var checksumBytes: [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(16)
            ClickHouseBinary.append(low, to: &out)
            ClickHouseBinary.append(high, to: &out)
            return out
        }
    }

    static let k0: UInt64 = 0xc3a5_c85c_97cb_3127
    static let k1: UInt64 = 0xb492_b66f_be98_f273
    static let k2: UInt64 = 0x9ae1_6a3b_2f90_404f
    static let k3: UInt64 = 0xc949_d7c7_509e_6557

    public static func hash(_ bytes: [UInt8]) -> Value {
        bytes.withUnsafeBytes { hash($0) }
    }

    public static func hash(_ s: UnsafeRawBufferPointer) -> Value {
        let len = s.count
        if len >= 16 {
            return withSeed(
                UnsafeRawBufferPointer(rebasing: s[16...]), Value(low: fetch64(s, 0) ^ k3, high: fetch64(s, 8)))
        }
        if len >= 8 {
            let seed = Value(low: fetch64(s, 0) ^ (UInt64(len) &* k0), high: fetch64(s, len - 8) ^ k1)
            return withSeed(UnsafeRawBufferPointer(rebasing: s[0..<0]), seed)
        }
        return withSeed(s, Value(low: k0, high: k1))
    }

    // MARK: the algorithm

    @inline(__always) static func fetch64(_ s: UnsafeRawBufferPointer, _ at: Int) -> UInt64 { s.le(UInt64.self, at: at) }
    @inline(__always) static func fetch32(_ s: UnsafeRawBufferPointer, _ at: Int) -> UInt64 { UInt64(s.le(UInt32.self, at: at)) }

    /// Rotate right; a shift of 0 leaves the value unchanged.
    @inline(__always) static func rotate(_ v: UInt64, _ shift: UInt64) -> UInt64 {
        shift == 0 ? v : (v >> shift) | (v << (64 - shift))
    }

    @inline(__always) static func shiftMix(_ v: UInt64) -> UInt64 { v ^ (v >> 47) }

    @inline(__always) static func hash16(_ u: UInt64, _ v: UInt64) -> UInt64 {
        let mul: UInt64 = 0x9ddf_ea08_eb38_2d69
        var a = (u ^ v) &* mul
        a ^= a >> 47
        var b = (v ^ a) &* mul
        b ^= b >> 47
        return b &* mul
    }

    static func hashLen0to16(_ s: UnsafeRawBufferPointer) -> UInt64 {
        let len = s.count
        if len > 8 {
            let a = fetch64(s, 0)
            let b = fetch64(s, len - 8)
            return hash16(a, rotate(b &+ UInt64(len), UInt64(len))) ^ b
        }
        if len >= 4 {
            let a = fetch32(s, 0)
            return hash16(UInt64(len) &+ (a << 3), fetch32(s, len - 4))
        }
        if len > 0 {
            let a = UInt64(s[0])
            let b = UInt64(s[len >> 1])
            let c = UInt64(s[len - 1])
            let y = a &+ (b << 8)
            let z = UInt64(len) &+ (c << 2)
            return shiftMix((y &* k2) ^ (z &* k3)) &* k2
        }
        return k2
    }

    @inline(__always)
    static func weakHash32(_ s: UnsafeRawBufferPointer, _ at: Int, _ a: UInt64, _ b: UInt64) -> (UInt64, UInt64) {
        let w = fetch64(s, at), x = fetch64(s, at + 8), y = fetch64(s, at + 16), z = fetch64(s, at + 24)
        var a = a &+ w
        var b = rotate(b &+ a &+ z, 21)
        let c = a
        a = a &+ x &+ y
        b = b &+ rotate(a, 44)
        return (a &+ z, b &+ c)
    }

    /// Murmur-style mixing for inputs shorter than 128 bytes.
    static func murmur(_ s: UnsafeRawBufferPointer, _ seed: Value) -> Value {
        let len = s.count
        var a = seed.low
        var b = seed.high
        var c: UInt64
        var d: UInt64
        if len <= 16 {
            a = shiftMix(a &* k1) &* k1
            c = b &* k1 &+ hashLen0to16(s)
            d = shiftMix(a &+ (len >= 8 ? fetch64(s, 0) : c))
        } else {
            c = hash16(fetch64(s, len - 8) &+ k1, a)
            d = hash16(b &+ UInt64(len), c &+ fetch64(s, len - 16))
            a = a &+ d
            var at = 0
            var left = len - 16
            repeat {
                a ^= shiftMix(fetch64(s, at) &* k1) &* k1
                a = a &* k1
                b ^= a
                c ^= shiftMix(fetch64(s, at + 8) &* k1) &* k1
                c = c &* k1
                d ^= c
                at += 16
                left -= 16
            } while left > 0
        }
        a = hash16(a, c)
        b = hash16(d, b)
        return Value(low: a ^ b, high: hash16(b, a))
    }

    static func withSeed(_ s: UnsafeRawBufferPointer, _ seed: Value) -> Value {
        var len = s.count
        if len < 128 { return murmur(s, seed) }
        var x = seed.low
        var y = seed.high
        var z = UInt64(len) &* k1
        var v0 = rotate(y ^ k1, 49) &* k1 &+ fetch64(s, 0)
        var v1 = rotate(v0, 42) &* k1 &+ fetch64(s, 8)
        var w0 = rotate(y &+ z, 35) &* k1 &+ x
        var w1 = rotate(x &+ fetch64(s, 88), 53) &* k1
        var at = 0
        @inline(__always) func round() {
            x = rotate(x &+ y &+ v0 &+ fetch64(s, at + 16), 37) &* k1
            y = rotate(y &+ v1 &+ fetch64(s, at + 48), 42) &* k1
            x ^= w1
            y ^= v0
            z = rotate(z ^ w0, 33)
            (v0, v1) = weakHash32(s, at, v1 &* k1, x &+ w0)
            (w0, w1) = weakHash32(s, at + 32, z &+ w1, y)
            swap(&z, &x)
            at += 64
        }
        repeat {
            round()
            round()
            len -= 128
        } while len >= 128
        y = y &+ rotate(w0, 37) &* k0 &+ z
        x = x &+ rotate(v0 &+ z, 49) &* k0
        // Up to four 32-byte chunks from the end of the remaining input.
        var tailDone = 0
        while tailDone < len {
            tailDone += 32
            y = rotate(y &- x, 42) &* k0 &+ v1
            w0 = w0 &+ fetch64(s, at + len - tailDone + 16)
            x = rotate(x, 49) &* k0 &+ w0
            w0 = w0 &+ v0
            (v0, v1) = weakHash32(s, at + len - tailDone, v0, v1)
        }
        x = hash16(x, v0)
        y = hash16(y, w0)
        return Value(low: hash16(x &+ v1, w1) &+ y, high: hash16(x &+ w1, y &+ v1))
    }
}
