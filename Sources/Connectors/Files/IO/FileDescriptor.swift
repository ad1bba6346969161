import Flow

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A POSIX file descriptor with the few blocking calls the connector needs; errors are `DponeError(.io)`.
///
/// Not thread-safe: one owner uses it from one thread at a time, and MUST `close()` it.
struct FileDescriptor: Sendable {
    let fd: Int32
    let path: String

    static func openForReading(_ path: String) throws -> FileDescriptor {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystem.error("cannot open \(path) for reading", path: path) }
        return FileDescriptor(fd: fd, path: path)
    }

    /// Creates (or truncates) `path` for writing, mode 0644.
    static func create(_ path: String) throws -> FileDescriptor {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.error("cannot create \(path)", path: path) }
        return FileDescriptor(fd: fd, path: path)
    }

    /// Reads up to `buffer.count` bytes; returns 0 at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc_read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FileSystem.error("cannot read \(path)", path: path)
        }
    }

    /// Writes every byte of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc_write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystem.error("cannot write \(path)", path: path)
            }
            offset += n
        }
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw FileSystem.error("cannot fsync \(path)", path: path) }
    }

    func close() {
        _ = Glibc_close(fd)
    }
}

@inline(__always) private func Glibc_read(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int { read(fd, p, n) }
@inline(__always) private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
@inline(__always) private func Glibc_close(_ fd: Int32) -> Int32 { close(fd) }
@inline(__always) private func posixRename(_ a: String, _ b: String) -> Int32 { rename(a, b) }

/// Path-level blocking file-system calls.
enum FileSystem {
    static func error(_ message: String, path: String) -> DponeError {
        let reason = String(cString: strerror(errno))
        return DponeError(.io, "\(message): \(reason)", context: ["file": path])
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Atomically replaces `to` with `from` (same file system).
    static func rename(_ from: String, to: String) throws {
        guard posixRename(from, to) == 0 else { throw error("cannot rename \(from) to \(to)", path: to) }
    }

    /// Removes `path`; a missing file is not an error.
    static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// Makes the directory's entries (a rename, a new file) durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error("cannot open directory \(path)", path: path) }
        defer { _ = close(fd) }
        guard fsync(fd) == 0 else { throw error("cannot fsync directory \(path)", path: path) }
    }

    /// Creates `path` and its missing parents.
    static func makeDirectories(_ path: String) throws {
        if path.isEmpty || isDirectory(path) { return }
        let parent = directory(of: path)
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw error("cannot create directory \(path)", path: path)
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The directory part of `path` (`.` for a bare name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func lastComponent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Names of the entries of `directory` (without `.` and `..`).
    static func entries(of directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
