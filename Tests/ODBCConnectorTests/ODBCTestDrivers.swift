import DponeTestSupport
import Foundation
import Testing

@testable import ODBCConnector

/// Connection strings of the real drivers `scripts/odbc.sh` registers in a project-local
/// odbcinst.ini (exported as ODBCSYSINI by scripts/test.sh).
enum ODBCTestDrivers {
    /// The PostgreSQL test server through psqlODBC (`BoolsAsChar=0`: booleans as `SQL_BIT`, not
    /// psqlODBC's default of text).
    static func postgres(password: String? = nil, port: Int? = nil) -> String {
        let url = PostgresTestServer.url
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        let at = rest.lastIndex(of: "@")!
        let userinfo = rest[..<at].split(separator: ":", maxSplits: 1).map(String.init)
        let tail = rest[rest.index(after: at)...]
        let database = tail.split(separator: "/", maxSplits: 1).dropFirst().first.map { String($0.split(separator: "?")[0]) } ?? "postgres"
        let endpoint = PostgresTestServer.endpoint
        return "Driver={PostgreSQL Unicode};Server=\(endpoint.host);Port=\(port ?? endpoint.port);Database=\(database);"
            + "Uid=\(userinfo[0]);Pwd=\(password ?? userinfo[1]);BoolsAsChar=0;"
    }

    /// A SQLite database file through SQLite ODBC.
    static func sqlite(_ path: String) -> String { "Driver={SQLite3};Database=\(path);" }

    /// Fails (does not skip) when the gate is open but the drivers are not registered.
    static func requireDrivers() throws {
        let dir = ProcessInfo.processInfo.environment["ODBCSYSINI"] ?? ""
        try #require(
            !dir.isEmpty && FileManager.default.fileExists(atPath: dir + "/odbcinst.ini"),
            "export ODBCSYSINI=$(scripts/odbc.sh) to register the test drivers")
    }
}
