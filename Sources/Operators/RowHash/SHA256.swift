/// SHA-256 (FIPS 180-4) in pure Swift.
///
/// `hash(_:into:)` is the hot path: it reads the message through a raw pointer, keeps the message
/// schedule and the final padded block on the stack and allocates nothing. `SHA256` as a value is
/// an incremental hasher for messages that arrive in pieces.
public struct SHA256: Sendable {
    public static let digestByteCount = 32

    static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    static let initial: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )

    private var state = SHA256.initial
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    public init() {}

    /// Feeds more of the message.
    public mutating func update(_ data: UnsafeRawBufferPointer) {
        length &+= UInt64(data.count)
        var rest = data
        if !pending.isEmpty {
            let take = min(64 - pending.count, rest.count)
            pending.append(contentsOf: rest.prefix(take))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(take))
            if pending.count == 64 {
                pending.withUnsafeBytes { SHA256.compressBlocks(&state, $0) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        let whole = rest.count & ~63
        if whole > 0 { SHA256.compressBlocks(&state, UnsafeRawBufferPointer(rebasing: rest.prefix(whole))) }
        pending.append(contentsOf: rest.dropFirst(whole))
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The digest of everything fed so far (the hasher can keep going afterwards).
    public func finalize() -> [UInt8] {
        var state = self.state
        var out = [UInt8](repeating: 0, count: 32)
        pending.withUnsafeBytes { tail in
            out.withUnsafeMutableBytes { SHA256.finish(&state, tail: tail, length: length, into: $0) }
        }
        return out
    }

    /// The SHA-256 of `data`, written as 32 bytes at `out`. Allocates nothing.
    ///
    /// - Precondition: `out` holds at least 32 bytes.
    public static func hash(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= 32, "a SHA-256 digest is 32 bytes")
        var state = initial
        let whole = data.count & ~63
        if whole > 0 { compressBlocks(&state, UnsafeRawBufferPointer(rebasing: data.prefix(whole))) }
        finish(&state, tail: UnsafeRawBufferPointer(rebasing: data.dropFirst(whole)), length: UInt64(data.count), into: out)
    }

    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Pads the last partial block (`tail` < 64 bytes), compresses it and writes the digest.
    private static func finish(
        _ state: inout (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32),
        tail: UnsafeRawBufferPointer, length: UInt64, into out: UnsafeMutableRawBufferPointer
    ) {
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { block in
            block.initializeMemory(as: UInt8.self, repeating: 0)
            block.copyMemory(from: tail)
            block[tail.count] = 0x80
            let blockCount = tail.count + 9 <= 64 ? 64 : 128
            block.storeBytes(of: (length &* 8).bigEndian, toByteOffset: blockCount - 8, as: UInt64.self)
            compressBlocks(&state, UnsafeRawBufferPointer(rebasing: block[0..<blockCount]))
        }
        out.storeBytes(of: state.0.bigEndian, toByteOffset: 0, as: UInt32.self)
        out.storeBytes(of: state.1.bigEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: state.2.bigEndian, toByteOffset: 8, as: UInt32.self)
        out.storeBytes(of: state.3.bigEndian, toByteOffset: 12, as: UInt32.self)
        out.storeBytes(of: state.4.bigEndian, toByteOffset: 16, as: UInt32.self)
        out.storeBytes(of: state.5.bigEndian, toByteOffset: 20, as: UInt32.self)
        out.storeBytes(of: state.6.bigEndian, toByteOffset: 24, as: UInt32.self)
        out.storeBytes(of: state.7.bigEndian, toByteOffset: 28, as: UInt32.self)
    }

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 &- n) }

    /// Compresses whole 64-byte blocks of `data` into `state`.
    private static func compressBlocks(
        _ state: inout (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32),
        _ data: UnsafeRawBufferPointer
    ) {
        k.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                var offset = 0
                while offset < data.count {
                    for t in 0..<16 {
                        w[t] = UInt32(bigEndian: data.loadUnaligned(fromByteOffset: offset + 4 * t, as: UInt32.self))
                    }
                    for t in 16..<64 {
                        let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                        let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                    }
                    var (a, b, c, d, e, f, g, h) = state
                    for t in 0..<64 {
                        let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = h &+ s1 &+ ch &+ k[t] &+ w[t]
                        let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        h = g
                        g = f
                        f = e
                        e = d &+ t1
                        d = c
                        c = b
                        b = a
                        a = t1 &+ t2
                    }
                    state = (
                        state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d,
                        state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h
                    )
                    offset += 64
                }
            }
        }
    }
}
