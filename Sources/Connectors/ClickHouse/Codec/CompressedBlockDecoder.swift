import Flow

/// Incrementally decompresses a stream of ClickHouse compressed blocks (`CompressedBlock`), verifying
/// every checksum. Pure.
///
/// Contract: feed the stream in order in chunks of any size; each `decode` appends the uncompressed
/// bytes of every block the chunk completes to `out` (a block is copied only when it straddles
/// chunks). `finish()` throws when the stream stopped inside a block. A thrown error leaves the decoder
/// unusable.
public struct CompressedBlockDecoder: Sendable {
    private var pending: [UInt8] = []
    public private(set) var blocksDecoded = 0

    public init() {}

    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into out: inout [UInt8]) throws {
        var input = chunk
        if !pending.isEmpty {
            // Complete the kept block from the chunk's head.
            let need = try Self.blockLength(pending) ?? (CompressedBlock.checksumSize + CompressedBlock.headerSize)
            let take = min(need - pending.count, input.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[0..<take]))
            input = UnsafeRawBufferPointer(rebasing: input[take...])
            guard let length = try Self.blockLength(pending) else { return }
            if pending.count < length {
                if input.isEmpty { return }
                // The header just completed: take the rest of the block.
                return try decode(input, into: &out)
            }
            try pending.withUnsafeBytes { try CompressedBlock.decodeBlock($0, into: &out) }
            blocksDecoded += 1
            pending.removeAll(keepingCapacity: true)
        }
        var offset = 0
        while offset < input.count {
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            guard let length = try Self.blockLength(rest), rest.count >= length else {
                pending.append(contentsOf: rest)
                return
            }
            try CompressedBlock.decodeBlock(UnsafeRawBufferPointer(rebasing: rest[0..<length]), into: &out)
            blocksDecoded += 1
            offset += length
        }
    }

    public mutating func decode(_ chunk: [UInt8], into out: inout [UInt8]) throws {
        try chunk.withUnsafeBytes { try decode($0, into: &out) }
    }

    /// Checks that the stream ended on a block boundary.
    public func finish() throws {
        guard pending.isEmpty else {
            throw CompressedBlock.corrupt("the stream ended inside a block (\(pending.count) bytes)")
        }
    }

    /// The whole block's length once its header is there.
    private static func blockLength(_ p: some Collection<UInt8>) throws -> Int? {
        let prefix = CompressedBlock.checksumSize + CompressedBlock.headerSize
        guard p.count >= prefix else { return nil }
        var size: UInt32 = 0
        for (k, byte) in p.dropFirst(CompressedBlock.checksumSize + 1).prefix(4).enumerated() {
            size |= UInt32(byte) << (8 * UInt32(k))
        }
        guard size >= CompressedBlock.headerSize, size <= CompressedBlock.maxBlockSize else {
            throw CompressedBlock.corrupt("a compressed size of \(size) bytes")
        }
        return CompressedBlock.checksumSize + Int(size)
    }
}
