import Foundation

/// A ClickHouse server integration tests use. Two exist locally:
///
/// - `legacy`: ClickHouse 18.16 from Debian (`scripts/clickhouse.sh start`); URL from
///   `DPONE_TEST_CLICKHOUSE_URL`, default `http://dpone:dpone@127.0.0.1:18123/`. Checks passwords.
/// - `modern`: the ClickHouse 26.9 engine behind the HTTP interface
///   (`scripts/clickhouse-modern.sh start`); URL from `DPONE_TEST_CLICKHOUSE_MODERN_URL`, default
///   `http://127.0.0.1:18124/`. Accepts any credentials.
///
/// Use `ClickHouseTestServer.all` as the arguments of a parameterized test to run it on both.
public struct ClickHouseTestServer: Sendable, CustomStringConvertible {
    /// `legacy` or `modern`.
    public let name: String
    public let environmentVariable: String
    public let defaultURL: String
    /// The script that starts it locally.
    public let startCommand: String
    /// Whether a wrong password is rejected (the modern facade runs without `--user`).
    public let checksPasswords: Bool

    public static let legacy = ClickHouseTestServer(
        name: "legacy", environmentVariable: "DPONE_TEST_CLICKHOUSE_URL",
        defaultURL: "http://dpone:dpone@127.0.0.1:18123/", startCommand: "scripts/clickhouse.sh start",
        checksPasswords: true)
    public static let modern = ClickHouseTestServer(
        name: "modern", environmentVariable: "DPONE_TEST_CLICKHOUSE_MODERN_URL", defaultURL: "http://127.0.0.1:18124/",
        startCommand: "scripts/clickhouse-modern.sh start", checksPasswords: false)
    public static let all: [ClickHouseTestServer] = [.legacy, .modern]

    public var description: String { "ClickHouse \(name)" }

    /// The URL from the environment, or `defaultURL`.
    public var url: String {
        let configured = ProcessInfo.processInfo.environment[environmentVariable] ?? ""
        return configured.isEmpty ? defaultURL : configured
    }

    /// Host and port of `url` (127.0.0.1 / 8123 when absent).
    public var endpoint: (host: String, port: Int) {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        let parts = rest.split(separator: ":", maxSplits: 1)
        let host = parts.first.map(String.init).flatMap { $0.isEmpty || $0 == "localhost" ? nil : $0 } ?? "127.0.0.1"
        let port = parts.count == 2 ? Int(parts[1]) ?? 8123 : 8123
        return (host, port)
    }

    /// `url` with user `user` and password `password` (replacing any credentials it has).
    public func url(user: String, password: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        var rest = url[scheme.upperBound...]
        let hostEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        if let at = rest[..<hostEnd].lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return String(url[..<scheme.upperBound]) + "\(user):\(password)@" + rest
    }

    /// Fails (does not skip) when the server does not accept TCP connections: call it first in every
    /// test gated by `IntegrationGate.integration`.
    public func require() throws {
        let (host, port) = endpoint
        try IntegrationGate.requireService("\(description) (start it with \(startCommand))", host: host, port: port)
    }

    /// A fresh lowercase database name for one test (`dpone_test_<prefix>_<random>`).
    public static func uniqueDatabaseName(_ prefix: String = "t") -> String {
        let suffix = UInt64.random(in: 0...UInt64.max)
        return "dpone_test_\(prefix)_\(String(suffix, radix: 36))"
    }
}
