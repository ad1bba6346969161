import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The embedded default state store: one JSON document per pipeline under a directory
/// (`.dpone/state/<pipeline>.json`).
///
/// A commit writes a temp file, fsyncs it, renames it over the document and fsyncs the directory,
/// so a crash leaves either the old or the new document, never a torn one.
public struct FileStateStore: StateStore {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func location(pipeline: String) -> String { "\(directory)/\(pipeline).json" }

    public func load(pipeline: String) async throws -> PipelineState? {
        let path = location(pipeline: pipeline)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return try JSONDecoder().decode(PipelineState.self, from: data)
        } catch {
            throw DponeError(
                .state, "cannot read state document \(path): \(error)",
                hint: "inspect it with `dpone state show`, or `dpone state reset` to start over")
        }
    }

    public func commit(_ state: PipelineState) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(state)
        let dir = directory
        let path = location(pipeline: state.pipeline)
        try await DedicatedThread.fileIO.run {
            try DurableFile.replace(path: path, directory: dir, contents: data)
        }
    }

    public func reset(pipeline: String) async throws {
        let path = location(pipeline: pipeline)
        let dir = directory
        try await DedicatedThread.fileIO.run {
            if unlink(path) != 0 && errno != ENOENT {
                throw DponeError(.state, "cannot remove \(path): \(String(cString: strerror(errno)))")
            }
            try DurableFile.syncDirectory(dir)
        }
    }
}

/// Crash-safe whole-file replacement. Blocking: call from a dedicated thread.
public enum DurableFile {
    public static func replace(path: String, directory: String, contents: Data) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Owner-only (state holds source positions), a fresh file (O_EXCL) that is not a symlink
        // (O_NOFOLLOW): a link planted in a shared state directory cannot redirect the write.
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ioError("open", temp) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temp) }
        }
        try contents.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ioError("write", temp)
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw ioError("fsync", temp) }
        guard rename(temp, path) == 0 else { throw ioError("rename", path) }
        ok = true
        try syncDirectory(directory)
    }

    public static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("open directory", directory) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("fsync directory", directory) }
    }

    static func ioError(_ op: String, _ path: String) -> DponeError {
        DponeError(.io, "\(op) \(path) failed: \(String(cString: strerror(errno)))")
    }
}
