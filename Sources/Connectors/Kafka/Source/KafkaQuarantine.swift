import Flow
import Formats
import Foundation

/// Appends undecodable messages to a JSON Lines file: `{topic, partition, offset, key, error,
/// payload}` with key and payload in base64. Flushed and fsynced before the checkpoint barrier, so a
/// quarantined message is on disk before its offset is committed (a replay may quarantine it again:
/// the file is at-least-once, the target exactly-once).
/// `@unchecked`: confined to the source's dedicated consumer thread, which alone writes the file.
final class KafkaQuarantine: @unchecked Sendable {
    let path: String
    let maxMessages: Int
    private(set) var count = 0
    private var handle: FileHandle?
    private var buffer: [UInt8] = []

    init(path: String, maxMessages: Int) {
        self.path = path
        self.maxMessages = maxMessages
    }

    func add(topic: String, partition: Int32, offset: Int64, key: UnsafeRawBufferPointer?, payload: UnsafeRawBufferPointer?, error: String) throws {
        count += 1
        guard count <= maxMessages else {
            throw DponeError(
                .source, "more than \(maxMessages) undecodable messages (quarantine cap); last: \(topic) partition \(partition) offset \(offset): \(error)",
                hint: "fix the producer or raise quarantine.max_messages; nothing was published",
                context: ["topic": topic, "partition": String(partition), "offset": String(offset), DponeError.permanentKey: "true"])
        }
        func b64(_ raw: UnsafeRawBufferPointer?) -> String {
            guard let raw else { return "null" }
            return "\"" + Data(raw).base64EncodedString() + "\""
        }
        let line =
            "{\"topic\":\(jsonString(topic)),\"partition\":\(partition),\"offset\":\(offset),\"key\":\(b64(key)),\"error\":\(jsonString(error)),\"payload\":\(b64(payload))}\n"
        buffer.append(contentsOf: line.utf8)
        if buffer.count > 1 << 20 { try flush(sync: false) }
    }

    /// Writes what is buffered; with `sync`, fsyncs the file.
    func flush(sync: Bool) throws {
        if handle == nil, !buffer.isEmpty || sync, count > 0 {
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            // Owner-only (it holds raw message payloads), appended to, never through a symlink.
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw DponeError(
                    .io, "cannot open the quarantine file \(path): \(String(cString: strerror(errno)))", context: ["path": path])
            }
            handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        }
        guard let handle else { return }
        if !buffer.isEmpty {
            try handle.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        }
        if sync { try handle.synchronize() }
    }

    func close() { try? handle?.close() }

    private func jsonString(_ s: String) -> String { JSONText.quoted(s) }
}
