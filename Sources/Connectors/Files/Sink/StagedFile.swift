import Flow
import Formats

/// A temporary file being filled with encoded rows; published by renaming it.
///
/// Contract: at most about `flushBytes` (plus one row) are buffered in memory; `seal()` writes the
/// rest, fsyncs and closes, after which the file may be renamed. `discard()` closes and removes it.
/// Not thread-safe: used from the sink's serial I/O queue only.
struct StagedFile: Sendable {
    /// Rows encoded per step between buffer checks.
    private static let rowsPerStep = 1024

    let path: String
    private let file: FileDescriptor
    private let flushBytes: Int
    private var buffer: [UInt8] = []
    private(set) var rows = 0
    private var isOpen = true

    /// Creates (truncating) `path` and buffers `encoder`'s header.
    init(path: String, encoder: RecordEncoder, flushBytes: Int) throws {
        self.path = path
        self.file = try FileDescriptor.create(path)
        self.flushBytes = flushBytes
        buffer.reserveCapacity(flushBytes + 64 << 10)
        encoder.encodeHeader(into: &buffer)
    }

    /// Appends the bytes of an existing file (carrying published rows into a new full-refresh file).
    mutating func appendContents(of source: String, skippingHeaderOf encoder: RecordEncoder, rows: Int) throws {
        var header: [UInt8] = []
        encoder.encodeHeader(into: &header)
        try flush()
        let input = try FileDescriptor.openForReading(source)
        defer { input.close() }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var skip = header.count
        while true {
            let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { break }
            let start = min(skip, n)
            skip -= start
            try chunk.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[start..<n])) }
        }
        self.rows += rows
    }

    mutating func append(_ batch: Batch, encoder: RecordEncoder) throws {
        var start = 0
        while start < batch.rowCount {
            let end = min(batch.rowCount, start + Self.rowsPerStep)
            encoder.encode(batch, rows: start..<end, into: &buffer)
            if buffer.count >= flushBytes { try flush() }
            start = end
        }
        rows += batch.rowCount
    }

    private mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try file.write($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, fsyncs and closes the file.
    mutating func seal() throws {
        try flush()
        try file.sync()
        file.close()
        isOpen = false
    }

    /// Closes (if open) and removes the file.
    mutating func discard() {
        if isOpen { file.close() }
        isOpen = false
        FileSystem.remove(path)
    }
}
