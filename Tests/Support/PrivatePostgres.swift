import Flow
import Foundation

/// A PostgreSQL 15 of its own: `scripts/postgres.sh` with a temporary services folder and a free
/// port, for tests that stop the server under a running pipeline (the shared one serves every other
/// suite in parallel). `stopQuietly` (in a defer) stops it and removes the folder.
public final class PrivatePostgres: Sendable {
    public let servicesDir: URL
    public let port: Int
    let script: URL

    public init() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        script = root.appendingPathComponent("scripts/postgres.sh")
        servicesDir = FileManager.default.temporaryDirectory.appendingPathComponent("dpone-pg-outage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: servicesDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        port = try PrivateClickHouse.freePort()
    }

    public var url: String { "postgresql://dpone:dpone@127.0.0.1:\(port)/dpone" }

    /// Runs `scripts/postgres.sh <command>` (start, stop) for this server and awaits its exit without
    /// blocking a thread; its output goes to a file.
    public func run(_ command: String) async throws {
        let log = servicesDir.appendingPathComponent("script-\(command).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = try launch(command, output: handle)
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw DponeError(.internal, "scripts/postgres.sh \(command) exited \(process.terminationStatus): \(text)")
        }
    }

    private func launch(_ command: String, output: FileHandle) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        // Every descriptor above 2 is closed before the script runs. Foundation's `Process` on Linux
        // learns of a child's exit through a socket the child inherits; the postmaster that
        // `pg_ctl start` leaves running would inherit it too and hold it open, so the exit of the
        // script would never be seen (`isRunning` stayed true, and the test hung).
        process.arguments = [
            "-c", #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; exec /bin/bash "$0" "$1""#,
            script.path, command,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["DPONE_SERVICES_DIR"] = servicesDir.path
        environment["DPONE_PG_PORT"] = String(port)
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return process
    }

    /// For a `defer`: the stop runs on a thread of its own (waiting for it would hold one of the two
    /// cooperative threads for seconds); the folder goes when the server is down.
    public func stopQuietly() {
        Thread.detachNewThread { [self] in
            if let process = try? launch("stop", output: FileHandle.nullDevice) { process.waitUntilExit() }
            try? FileManager.default.removeItem(at: servicesDir)
        }
    }
}
