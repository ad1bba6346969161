import CLZ4
import CZstd
import Flow

/// The compression method byte of a ClickHouse compressed block.
public enum ClickHouseCompression: UInt8, Sendable, Hashable, CaseIterable {
    case none = 0x02
    case lz4 = 0x82
    case zstd = 0x90
}

/// ClickHouse's own compressed-block framing (HTTP `decompress=1` request bodies, `compress=1`
/// responses, the native protocol):
///
///     16 bytes  CityHash128 v1.0.2 of everything after it (low 64 bits, then high, little-endian)
///      1 byte   method (0x02 none, 0x82 LZ4, 0x90 ZSTD)
///      4 bytes  compressed size, UInt32 LE, counting these 9 header bytes and the payload
///      4 bytes  uncompressed size, UInt32 LE
///      payload
///
/// A block's uncompressed size is at most `maxBlockSize` here (ClickHouse writes 1 MiB blocks and
/// refuses compressed sizes over 1 GiB); `encode(_:method:into:)` splits larger input.
public enum CompressedBlock {
    public static let checksumSize = 16
    public static let headerSize = 9
    /// The uncompressed size of the blocks `encode` writes (ClickHouse's `max_compress_block_size`).
    public static let defaultBlockSize = 1 << 20
    /// The largest block either side accepts (ClickHouse's DBMS_MAX_COMPRESSED_SIZE).
    public static let maxBlockSize = 1 << 30

    /// Appends `raw` as compressed blocks of at most `blockSize` uncompressed bytes each (one block
    /// for input up to that size; none for empty input).
    public static func encode(
        _ raw: UnsafeRawBufferPointer, method: ClickHouseCompression, blockSize: Int = defaultBlockSize,
        zstdLevel: Int32 = 1, into out: inout [UInt8]
    ) {
        precondition(blockSize > 0 && blockSize <= maxBlockSize)
        var start = 0
        while start < raw.count {
            let end = min(raw.count, start + blockSize)
            appendBlock(UnsafeRawBufferPointer(rebasing: raw[start..<end]), method: method, zstdLevel: zstdLevel, to: &out)
            start = end
        }
    }

    /// `raw` as one compressed block (splitting only past `defaultBlockSize`).
    public static func encode(_ raw: [UInt8], method: ClickHouseCompression) -> [UInt8] {
        var out: [UInt8] = []
        raw.withUnsafeBytes { encode($0, method: method, into: &out) }
        return out
    }

    private static func appendBlock(
        _ raw: UnsafeRawBufferPointer, method: ClickHouseCompression, zstdLevel: Int32, to out: inout [UInt8]
    ) {
        let start = out.count
        let bound: Int
        switch method {
        case .none: bound = raw.count
        case .lz4: bound = Int(LZ4_compressBound(Int32(raw.count)))
        case .zstd: bound = ZSTD_compressBound(raw.count)
        }
        out.append(contentsOf: repeatElement(0, count: checksumSize + headerSize + bound))
        let payloadSize: Int = out.withUnsafeMutableBytes { buffer in
            let dst = UnsafeMutableRawBufferPointer(rebasing: buffer[(start + checksumSize + headerSize)...])
            switch method {
            case .none:
                if raw.count > 0 { dst.copyMemory(from: raw) }
                return raw.count
            case .lz4:
                let n = LZ4_compress_default(
                    raw.baseAddress?.assumingMemoryBound(to: CChar.self), dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(raw.count), Int32(bound))
                precondition(n > 0, "LZ4_compress_default failed with a sufficient bound")
                return Int(n)
            case .zstd:
                let n = ZSTD_compress(dst.baseAddress, bound, raw.baseAddress, raw.count, zstdLevel)
                precondition(ZSTD_isError(n) == 0, "ZSTD_compress failed with a sufficient bound")
                return n
            }
        }
        out.removeLast(bound - payloadSize)
        out.withUnsafeMutableBytes { buffer in
            let header = start + checksumSize
            buffer[header] = method.rawValue
            buffer.storeBytes(of: UInt32(headerSize + payloadSize).littleEndian, toByteOffset: header + 1, as: UInt32.self)
            buffer.storeBytes(of: UInt32(raw.count).littleEndian, toByteOffset: header + 5, as: UInt32.self)
            let sum = CityHash128.hash(UnsafeRawBufferPointer(rebasing: buffer[header...]))
            buffer.storeBytes(of: sum.low.littleEndian, toByteOffset: start, as: UInt64.self)
            buffer.storeBytes(of: sum.high.littleEndian, toByteOffset: start + 8, as: UInt64.self)
        }
    }

    /// Decompresses one complete block `block` (checksum included) into `out`.
    /// - Throws: `DponeError(.source)` on a checksum mismatch, an unknown method, inconsistent sizes or
    ///   a payload that does not decompress to the announced size.
    static func decodeBlock(_ block: UnsafeRawBufferPointer, into out: inout [UInt8]) throws {
        let body = UnsafeRawBufferPointer(rebasing: block[checksumSize...])
        let expected = CityHash128.Value(low: block.le(UInt64.self, at: 0), high: block.le(UInt64.self, at: 8))
        guard CityHash128.hash(body) == expected else { throw corrupt("checksum mismatch") }
        guard let method = ClickHouseCompression(rawValue: body[0]) else {
            throw corrupt("unknown compression method 0x\(String(body[0], radix: 16))")
        }
        let rawSize = Int(body.le(UInt32.self, at: 5))
        guard rawSize <= maxBlockSize else { throw corrupt("an uncompressed size of \(rawSize) bytes") }
        let payload = UnsafeRawBufferPointer(rebasing: body[headerSize...])
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: rawSize))
        let produced: Int = out.withUnsafeMutableBytes { buffer in
            let dst = UnsafeMutableRawBufferPointer(rebasing: buffer[start...])
            switch method {
            case .none:
                guard payload.count == rawSize else { return -1 }
                if rawSize > 0 { dst.copyMemory(from: payload) }
                return rawSize
            case .lz4:
                guard rawSize > 0 else { return payload.count == 0 ? 0 : -1 }
                return Int(
                    LZ4_decompress_safe(
                        payload.baseAddress?.assumingMemoryBound(to: CChar.self),
                        dst.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(payload.count), Int32(rawSize)))
            case .zstd:
                let n = ZSTD_decompress(dst.baseAddress, rawSize, payload.baseAddress, payload.count)
                return ZSTD_isError(n) != 0 ? -1 : n
            }
        }
        guard produced == rawSize else {
            out.removeLast(rawSize)
            throw corrupt("the \(method) payload does not decompress to the announced \(rawSize) bytes")
        }
    }

    static func corrupt(_ what: String) -> DponeError {
        DponeError(.source, "corrupt ClickHouse compressed block: \(what)")
    }
}
