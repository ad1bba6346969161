#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits bytes into LF-terminated lines, incrementally (a trailing CR is dropped).
///
/// Contract: feed chunks in order, then `finish`. Each line is passed once, in order, with its
/// 1-based physical line number; a line split across chunks is carried over (copied once).
/// The last line may lack its LF.
struct LineSplitter: Sendable {
    private var pending: [UInt8] = []
    private(set) var line = 1
    /// Drops a UTF-8 byte-order mark at the start and refuses UTF-16 input.
    private var mark: ByteOrderMarkFilter

    init(sourceName: String = "jsonl input") { mark = ByteOrderMarkFilter(sourceName: sourceName) }

    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ onLine: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        switch try mark.feed(chunk) {
        case .wait: return
        case .start(let bytes): try bytes.withUnsafeBytes { try feedBody($0, onLine) }
        case .pass: try feedBody(chunk, onLine)
        }
    }

    private mutating func feedBody(_ chunk: UnsafeRawBufferPointer, _ onLine: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        if pending.isEmpty {
            let consumed = try scan(chunk, isFinal: false, onLine)
            if consumed < chunk.count { pending.append(contentsOf: chunk[consumed...]) }
        } else {
            pending.append(contentsOf: chunk)
            try scanPending(isFinal: false, onLine)
        }
    }

    mutating func finish(_ onLine: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        if let rest = try mark.finish() { pending.append(contentsOf: rest) }
        try scanPending(isFinal: true, onLine)
    }

    private mutating func scanPending(isFinal: Bool, _ onLine: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var buffer: [UInt8] = []
        swap(&buffer, &pending)
        let consumed = try buffer.withUnsafeBytes { try scan($0, isFinal: isFinal, onLine) }
        buffer.removeFirst(consumed)
        swap(&buffer, &pending)
    }

    private mutating func scan(
        _ b: UnsafeRawBufferPointer, isFinal: Bool, _ onLine: (UnsafeRawBufferPointer, Int) throws -> Void
    ) throws -> Int {
        guard let base = b.baseAddress else { return 0 }
        var pos = 0
        while pos < b.count {
            let end: Int
            let next: Int
            if let hit = memchr(base + pos, 0x0A, b.count - pos) {
                end = base.distance(to: UnsafeRawPointer(hit))
                next = end + 1
            } else {
                guard isFinal else { return pos }
                end = b.count
                next = b.count
            }
            let trimmedEnd = end > pos && b[end - 1] == 0x0D ? end - 1 : end
            let number = line
            line += 1
            try onLine(UnsafeRawBufferPointer(rebasing: b[pos..<trimmedEnd]), number)
            pos = next
        }
        return pos
    }
}
