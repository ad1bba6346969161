import Foundation

/// The PostgreSQL server integration tests use (`scripts/postgres.sh start` runs it locally).
///
/// The URL comes from `DPONE_TEST_POSTGRES_URL`, default `postgresql://dpone:dpone@127.0.0.1:55432/dpone`.
public enum PostgresTestServer {
    public static let defaultURL = "postgresql://dpone:dpone@127.0.0.1:55432/dpone"

    public static var url: String {
        let configured = ProcessInfo.processInfo.environment["DPONE_TEST_POSTGRES_URL"] ?? ""
        return configured.isEmpty ? defaultURL : configured
    }

    /// Host and port of `url` (URL form; 127.0.0.1 / 5432 when absent).
    public static var endpoint: (host: String, port: Int) {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        let parts = rest.split(separator: ":", maxSplits: 1)
        let host = parts.first.map(String.init).flatMap { $0.isEmpty || $0 == "localhost" ? nil : $0 } ?? "127.0.0.1"
        let port = parts.count == 2 ? Int(parts[1]) ?? 5432 : 5432
        return (host, port)
    }

    /// `url` with its password replaced by `password`.
    public static func url(password: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@"),
            let colon = url[scheme.upperBound..<at].firstIndex(of: ":")
        else { return url }
        return url.replacingCharacters(in: url.index(after: colon)..<at, with: password)
    }

    /// Fails (does not skip) when the server does not accept TCP connections: call it first in every
    /// test gated by `IntegrationGate.integration`.
    public static func require() throws {
        let (host, port) = endpoint
        try IntegrationGate.requireService("PostgreSQL", host: host, port: port)
    }

    /// A fresh lowercase schema name for one test (`dpone_test_<prefix>_<random>`).
    public static func uniqueSchemaName(_ prefix: String = "t") -> String {
        let suffix = UInt64.random(in: 0...UInt64.max)
        return "dpone_test_\(prefix)_\(String(suffix, radix: 36))"
    }
}
