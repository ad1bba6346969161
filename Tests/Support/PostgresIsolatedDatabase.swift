import Testing
import PostgresConnector

extension PostgresTestServer {
    /// `url` with its database replaced by `database` (the path after host and port; a query keeps).
    public static func url(database: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let query = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        let authority = rest[..<(rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex)]
        return String(url[..<scheme.upperBound]) + authority + "/" + database + query
    }

    /// The URL of `database` on the test server, created first when it does not exist yet.
    ///
    /// Logical decoding reads the WAL of a whole database: every change of every table there is
    /// decoded (the publication filters only afterwards), so a test that streams or peeks a slot
    /// would otherwise decode, and can fail on, what hundreds of parallel tests do to their own
    /// tables (seen in CI: `could not map filenode ... to relation OID`, then every slot of the
    /// database was wedged at that record). Each suite that creates slots keeps them, its
    /// publications and its source tables in a database of its own.
    public static func isolatedDatabase(_ database: String) async throws -> String {
        let admin = try await PostgresConnection.connect(url: url)
        func exists() async throws -> Bool {
            try await !admin.query("SELECT 1 FROM pg_database WHERE datname = $1", parameters: [database]).isEmpty
        }
        do {
            if try await !exists() {
                do {
                    try await admin.execute("CREATE DATABASE \(PostgresSQL.quoteIdentifier(database))")
                } catch {
                    // Another test process (or suite) created it at the same moment.
                    guard try await exists() else { throw error }
                }
            }
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        return url(database: database)
    }
}

extension PostgresTestServer {
    /// Waits until the server's oldest running transaction began after every write `c` committed so
    /// far. An xmin window ends at that horizon, and other tests' transactions can hold it back (a
    /// CDC test's huge transaction runs for a minute under the full suite): without the wait those
    /// rows would simply come one run later, and the test would fail for a reason that is not its
    /// own. After 300 s it records an issue naming the sessions that hold the horizon.
    public static func awaitXminHorizon(after c: PostgresConnection, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let marker = try await c.query("SELECT txid_current()::text")[0][0]!
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline {
            let horizon = try await c.query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")[0][0]!
            if UInt64(horizon)! > UInt64(marker)! { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let holders = try await c.query(
            "SELECT pid::text || ' ' || coalesce(state, '') || ' ' || left(query, 80) FROM pg_stat_activity WHERE backend_xmin IS NOT NULL OR backend_xid IS NOT NULL")
        Issue.record("the xmin horizon did not pass xid \(marker) within 300 s; held by: \(holders.map { $0[0] ?? "" })", sourceLocation: sourceLocation)
    }
}
