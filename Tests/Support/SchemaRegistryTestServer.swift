import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The schema registry integration tests use: the local fake of the Confluent Schema Registry
/// (`scripts/schema-registry.sh start`, `scripts/fakes/schema_registry.py`). URL from
/// `DPONE_TEST_SCHEMA_REGISTRY_URL`, default `http://127.0.0.1:18081`. Tests tagged
/// `.integrationMatrixMock` and gated by `IntegrationGate.integration`.
public enum SchemaRegistryTestServer {
    public static let defaultURL = "http://127.0.0.1:18081"
    public static let environmentVariable = "DPONE_TEST_SCHEMA_REGISTRY_URL"
    public static let startCommand = "scripts/schema-registry.sh start"

    /// The URL from the environment, or `defaultURL`.
    public static var url: String {
        let configured = ProcessInfo.processInfo.environment[environmentVariable] ?? ""
        return configured.isEmpty ? defaultURL : configured
    }

    /// Host and port of `url` (127.0.0.1 / 8081 when absent).
    public static var endpoint: (host: String, port: Int) {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "," }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        let parts = rest.split(separator: ":", maxSplits: 1)
        let host = parts.first.map(String.init).flatMap { $0.isEmpty || $0 == "localhost" ? nil : $0 } ?? "127.0.0.1"
        let port = parts.count == 2 ? Int(parts[1]) ?? 8081 : 8081
        return (host, port)
    }

    /// Fails (does not skip) when the registry does not accept TCP connections: call it first in
    /// every test gated by `IntegrationGate.integration`.
    public static func require() throws {
        let (host, port) = endpoint
        try IntegrationGate.requireService(
            "the schema registry (start it with \(startCommand))", host: host, port: port)
    }

    /// A fresh subject prefix for one test (`dpone-test-<prefix>-<random>`), so runs never collide
    /// on the fake's persistent state.
    public static func uniqueName(_ prefix: String = "t") -> String {
        "dpone-test-\(prefix)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }

    /// The repository's root (for scripts/fakes), found from this file's path.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// A private fake registry (`scripts/fakes/schema_registry.py`) on a free loopback port, in
    /// memory, optionally requiring basic auth `user:password`; for tests that need a configuration
    /// the shared fake does not have. Stop it with `stop()`.
    public final class Private: @unchecked Sendable {
        public let url: String
        private let process: Process

        private init(url: String, process: Process) {
            self.url = url
            self.process = process
        }

        /// Starts the fake and waits (off the cooperative pool) until it accepts connections.
        /// `data`: a JSON file keeping the fake's state across a stop and a start (on the same `port`).
        public static func start(user: String? = nil, port: Int? = nil, data: String? = nil) async throws -> Private {
            let port = try port ?? freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            var arguments = [
                "python3", repositoryRoot.appendingPathComponent("scripts/fakes/schema_registry.py").path,
                "--host", "127.0.0.1", "--port", String(port),
            ]
            if let user { arguments += ["--user", user] }
            if let data { arguments += ["--data", data] }
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let registry = Private(url: "http://127.0.0.1:\(port)", process: process)
            let deadline = Date().addingTimeInterval(10)
            while !IntegrationGate.canConnect(host: "127.0.0.1", port: port) {
                guard process.isRunning, Date() < deadline else {
                    kill(process.processIdentifier, SIGKILL)
                    throw ServiceUnreachable(description: "the private fake schema registry did not start on port \(port)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            return registry
        }

        /// Kills the fake (SIGKILL: it keeps nothing, and a SIGTERM could stay blocked in a child of a
        /// cooperative-pool thread) and reaps it.
        public func stop() {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        deinit { stop() }

        /// A port the kernel just handed out (bound, then released).
        public static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ServiceUnreachable(description: "socket() failed") }
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = 0
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            guard bound else { throw ServiceUnreachable(description: "no free loopback port") }
            return Int(UInt16(bigEndian: addr.sin_port))
        }
    }
}
