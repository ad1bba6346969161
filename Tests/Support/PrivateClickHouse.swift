import ClickHouseConnector
import Flow
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A ClickHouse 18.16 of its own: `scripts/clickhouse.sh` with a temporary services folder and free
/// ports. `stopQuietly` (in a defer) stops it and removes the folder.
public final class PrivateClickHouse: Sendable {
    public let servicesDir: URL
    public let httpPort: Int
    public let tcpPort: Int
    public let script: URL

    public init() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        script = root.appendingPathComponent("scripts/clickhouse.sh")
        guard FileManager.default.isExecutableFile(atPath: script.path) else {
            throw DponeError(.internal, "scripts/clickhouse.sh not found at \(script.path)")
        }
        servicesDir = FileManager.default.temporaryDirectory.appendingPathComponent("dpone-ch-outage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: servicesDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        httpPort = try Self.freePort()
        var tcp = try Self.freePort()
        while tcp == httpPort { tcp = try Self.freePort() }
        tcpPort = tcp
    }

    public var url: String { "http://dpone:dpone@127.0.0.1:\(httpPort)/" }

    var scriptEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["DPONE_SERVICES_DIR"] = servicesDir.path
        environment["DPONE_CH_PORT"] = String(httpPort)
        environment["DPONE_CH_TCP_PORT"] = String(tcpPort)
        return environment
    }

    /// Runs `scripts/clickhouse.sh <command>` on this server's folder and ports (off the cooperative
    /// pool: a start takes seconds); throws on a non-zero exit.
    public func run(_ command: String) async throws {
        let output = try await OffPoolProcess.run("/bin/bash", [script.path, command], environment: scriptEnvironment, mergeStderr: true)
        guard output.status == 0 else {
            throw DponeError(.internal, "scripts/clickhouse.sh \(command) exited \(output.status): \(output.stdout)")
        }
    }

    /// `run` for a `defer` (blocks its thread).
    func runBlocking(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path, command]
        process.environment = scriptEnvironment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
    }

    /// Waits until a query answers (the script already waits for /ping; this also covers the user
    /// and system tables being ready).
    public func waitForPing(timeout: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            do {
                let client = try ClickHouseClient(url: url)
                let version = try? await client.queryRows("SELECT version()")
                await client.close()
                if version?.first?.first?.isEmpty == false { return }
            }
            guard Date() < deadline else { throw DponeError(.internal, "private ClickHouse on port \(httpPort) did not answer in \(Int(timeout)) s") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// SIGKILL to the server (a crash: no graceful shutdown that lets running queries finish); the
    /// next `run("start")` removes the stale pid file.
    public func crash() async throws {
        let pidFile = servicesDir.appendingPathComponent("clickhouse/run/clickhouse-server.pid").path
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw DponeError(.internal, "no pid in \(pidFile)") }
        guard kill(pid, SIGKILL) == 0 else { throw DponeError(.internal, "kill -9 \(pid) failed") }
        for _ in 0..<500 where kill(pid, 0) == 0 { try await Task.sleep(for: .milliseconds(20)) }
    }

    /// For a `defer`: the stop (seconds: a graceful shutdown) runs on a thread of its own, so the
    /// test's cooperative thread is free at once; the folder goes when the server is down.
    public func stopQuietly() {
        Thread.detachNewThread { [self] in
            try? runBlocking("stop")
            try? FileManager.default.removeItem(at: servicesDir)
        }
    }

    /// A TCP port the kernel reports free on 127.0.0.1 (bind to 0, read it back, close).
    public static func freePort() throws -> Int {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw DponeError(.internal, "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw DponeError(.internal, "bind() to a free port failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
