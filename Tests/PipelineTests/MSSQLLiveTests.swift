import DponeTestSupport
import Flow
import Foundation
import Manifest
import ODBCConnector
import Pipeline
import Testing

/// The SQL Server layer against a real server: set `DPONE_RUN_INTEGRATION_LIVE=1` and
/// `DPONE_CONN_MSSQL_URL=mssql://sa:<password>@127.0.0.1:1433/master` (see README, "SQL Server";
/// the SQL Server 2022 container image serves it on a laptop). Without them the suite is skipped
/// with its reason. Each strategy loads a CSV twice (the second time changed) and the target is
/// compared with what the strategy must leave.
@Suite(.tags(.integrationLive, .integrationMSSQL), IntegrationGate.live.trait, .serialized)
struct MSSQLLiveTests {
    let dir: String
    let table = "dpone_live_" + UUID().uuidString.prefix(8).lowercased()

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-mssql-live-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    static var url: String? { ProcessInfo.processInfo.environment["DPONE_CONN_MSSQL_URL"].flatMap { $0.isEmpty ? nil : $0 } }

    func manifest(_ strategy: String) throws -> ManifestDocument {
        let url = try #require(Self.url, "set DPONE_CONN_MSSQL_URL to run the SQL Server live layer")
        return try ManifestLoader.parse(
            yaml: """
                name: \(table)
                source: {type: files, path: \(dir)/in.csv}
                sink:
                  type: mssql
                  connection: {url: "\(url)"}
                  table: {schema: dbo, name: \(table)}
                  strategy: \(strategy)
                  options: {trust_server_certificate: true}
                state: {dir: \(dir)/state}
                """, path: "\(dir)/m.yml", environment: [:])
    }

    func rows() async throws -> [[String?]] {
        let url = try #require(Self.url)
        let components = URLComponents(string: url)!
        let text = "Driver={ODBC Driver 18 for SQL Server};Server=tcp:\(components.host!),\(components.port ?? 1433);UID=\(components.user!);PWD={\(components.password!.replacingOccurrences(of: "}", with: "}}"))};TrustServerCertificate=yes;Database=\(components.path.dropFirst())"
        let odbc = try await ODBCConnection.connect(text)
        defer { Task { await odbc.close() } }
        return try await odbc.query("SELECT CAST([id] AS nvarchar(20)), [note] FROM [dbo].[\(table)] ORDER BY [id]")
    }

    func load(_ csv: String, _ strategy: String) async throws {
        try csv.write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        let result = await BatchPipeline.run(document: try manifest(strategy), options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
    }

    static let first = "id,note\n1,a\n2,b\n3,c\n"
    static let second = "id,note\n2,B\n3,c\n4,d\n"

    @Test(arguments: [
        ("{mode: full_refresh}", [["2", "B"], ["3", "c"], ["4", "d"]]),
        ("{mode: incremental_append}", [["1", "a"], ["2", "b"], ["2", "B"], ["3", "c"], ["3", "c"], ["4", "d"]]),
        ("{mode: incremental_merge, unique_key: [id]}", [["1", "a"], ["2", "B"], ["3", "c"], ["4", "d"]]),
        ("{mode: incremental_merge, unique_key: [id], merge_policy: upsert}", [["1", "a"], ["2", "B"], ["3", "c"], ["4", "d"]]),
        ("{mode: snapshot_diff, unique_key: [id]}", [["2", "B"], ["3", "c"], ["4", "d"]]),
    ])
    func aStrategyLeavesWhatItMust(_ strategy: String, _ expected: [[String]]) async throws {
        try await load(Self.first, strategy)
        try await load(Self.second, strategy)
        #expect(try await rows().map { $0.map { $0 ?? "NULL" } } == expected, "\(strategy)")
    }
}
