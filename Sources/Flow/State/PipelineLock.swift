import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Fences a second concurrent run of the same pipeline: an exclusive `flock` on
/// `<directory>/<pipeline>.lock`, which holds the owner's pid for the error message.
///
/// The kernel releases the lock when the process dies, even by SIGKILL, so a crashed run never leaves
/// a stale lock behind.
public final class PipelineLock: Sendable {
    public let path: String
    private let fd: Int32

    public init(directory: String, pipeline: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(pipeline).lock"
        // Owner-only, and never through a symlink planted in a shared state directory.
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DurableFile.ioError("open", path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw DponeError(
                .state,
                "pipeline '\(pipeline)' is already running (pid \(holder.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown") holds \(path))",
                hint: "wait for that run to finish; two concurrent runs of one pipeline would race on its state")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.path = path
        self.fd = fd
    }

    deinit {
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
