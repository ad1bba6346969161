import ConnectorKit
import Flow
import Foundation
import Manifest
import ODBCConnector

/// The SQL Server connector over ODBC: a table (or query) source and a staged-table sink that
/// publishes with set-based T-SQL in one transaction, through Microsoft's ODBC Driver 18 (default)
/// or FreeTDS.
///
/// ```yaml
/// sink:
///   type: mssql
///   connection: {url: "mssql://etl:${PW}@db.example.com:1433/warehouse"}
///   table: {schema: sales, name: orders}
///   strategy: {mode: incremental_merge, unique_key: [id]}
///   options: {driver: "ODBC Driver 18 for SQL Server", trust_server_certificate: true}
/// ```
public struct MSSQLDescriptor: ConnectorDescriptor {
    public init() {}

    public var type: EndpointType { .mssql }
    public var address: EndpointAddress { .table }
    public var urlScheme: String? { "mssql" }
    public var sourceOptionKeys: [String]? { MSSQLSettings.keys }
    public var sinkOptionKeys: [String]? { MSSQLSettings.keys }
    /// Every strategy but cdc_apply (not in this build yet).
    public var supportedModes: [LoadMode] {
        [.fullRefresh, .incrementalAppend, .incrementalMerge, .replace, .partitionReplace, .snapshotDiff, .scd2, .backfill]
    }
    public var mergePolicies: [MergePolicy] { [.deleteInsert, .upsert] }
    public var sinkComparesRowHashes: Bool { true }
    /// CDC reading (TSQLCDC) is not wired into a source yet.
    public var plannedChangeReads: [ChangeRead] { [.cdc] }

    public func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {
        if let settings = MSSQLSettings.decode(options) { source.options.connector = AnyConnectorOptions(settings) }
    }

    public func decodeSinkOptions(_ options: OptionsReader, into sink: inout SinkConfig) {
        if let settings = MSSQLSettings.decode(options) { sink.options.connector = AnyConnectorOptions(settings) }
    }

    public func describe(sink: SinkConfig) -> String {
        "mssql \(sink.table.map { "\($0.schema ?? "dbo").\($0.name)" } ?? "") (\(sink.connection?.resolved.redactedURL ?? ""))"
    }

    public func describe(source: SourceConfig) -> String {
        "mssql \(source.table.map { "\($0.schema ?? "dbo").\($0.name)" } ?? "") (\(source.connection?.resolved.redactedURL ?? ""))"
    }

    public func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        try request.refuseContinuous(hint: "SQL Server CDC streaming is not in this build yet")
        let config = request.config
        guard let connection = config.connection, let table = config.table else {
            throw DponeError(.manifest, "a mssql source needs a connection and a table")
        }
        let settings = config.options.connector(MSSQLSettings.self) ?? MSSQLSettings()
        let options = ODBCSourceOptions(
            connectionString: try MSSQLConnectionString.build(connection.resolved, settings), schema: table.schema ?? "dbo",
            table: table.name, columns: config.options.columns, customPredicate: config.options.customPredicate,
            incrementalColumn: config.options.incrementalColumn,
            batchRows: config.options.batchRows ?? ODBCSourceOptions.defaultBatchRows)
        return try ODBCSource(name: "mssql:\(options.target)", options: options)
    }

    /// `dpone doctor`: each SQL Server endpoint's driver loads and the server answers.
    public func doctor(_ document: ManifestDocument) async -> [DoctorProbe] {
        var probes: [DoctorProbe] = []
        for (role, type, connection, options) in [
            ("source", document.source.type, document.source.connection, document.source.options.connector(MSSQLSettings.self)),
            ("sink", document.sink.type, document.sink.connection, document.sink.options.connector(MSSQLSettings.self)),
        ] where type == self.type {
            guard let connection else { continue }
            do {
                let text = try MSSQLConnectionString.build(connection.resolved, options ?? MSSQLSettings())
                probes.append(await ODBCDoctor.probe(connectionString: text, name: "mssql \(role)"))
            } catch {
                probes.append(DoctorProbe(name: "mssql \(role)", outcome: .failed, detail: "\(error)", fix: "check connection and options.driver"))
            }
        }
        return probes
    }

    /// `dpone batch --dry-run`: the staging table, its checks and the one transaction's T-SQL.
    public func dryRun(_ request: SinkRequest, nextCheckpoint: UInt64, columns: () async throws -> [String]) async throws -> SinkDryRun? {
        guard let sink = try makeSink(request) as? MSSQLSink else { return nil }
        let options = sink.options
        let plan = TSQLLoadPlan(
            target: options.target, staging: options.staging, columns: try await columns(), uniqueKey: options.uniqueKey, mode: options.mode,
            loadTimestampSQL: "<load timestamp>")
        return SinkDryRun(
            staging: "\(options.staging.sql) via ODBC parameter arrays",
            checks: TSQLFinalizer.keyChecks(plan).map { "\($0.what) = 0: \($0.sql)" },
            finalizer: TSQLFinalizer.begin
                + ["SELECT ... FROM \(options.ledger.sql) WITH (UPDLOCK, HOLDLOCK) WHERE [checkpoint] = \(nextCheckpoint) (a replay publishes nothing)"]
                + (try TSQLFinalizer.steps(plan)).map(\.sql)
                + ["INSERT INTO \(options.ledger.sql) (...) VALUES (..., \(nextCheckpoint), ...)", "DROP TABLE IF EXISTS \(options.staging.sql)", "COMMIT TRANSACTION"])
    }

    public func makeSink(_ request: SinkRequest) throws -> any SinkOperator {
        let config = request.config
        guard let connection = config.connection, let table = config.table else {
            throw DponeError(.manifest, "a mssql sink needs a connection and a table")
        }
        let settings = config.options.connector(MSSQLSettings.self) ?? MSSQLSettings()
        let target = TSQLTable(schema: table.schema, name: table.name)
        let options = MSSQLSinkOptions(
            connectionString: try MSSQLConnectionString.build(connection.resolved, settings), target: target,
            mode: try config.strategy.loadStrategy(for: self), uniqueKey: config.strategy.uniqueKey,
            loadID: request.loadID)
        return MSSQLSink(name: "mssql:\(target)", options: options)
    }
}

/// The mssql keys of `source.options` / `sink.options`.
public struct MSSQLSettings: ConnectorOptions, Hashable, Codable {
    public var renderKey: String { "mssql" }
    static let keys = ["driver", "trust_server_certificate", "encrypt", "cdc"]

    /// `driver`: the ODBC driver's name; default `ODBC Driver 18 for SQL Server` (or `FreeTDS`).
    public var driver = "ODBC Driver 18 for SQL Server"
    /// `trust_server_certificate`: accept the server's certificate without validation (a
    /// self-signed development server); default false.
    public var trustServerCertificate = false
    /// `encrypt`: `yes` (default, Driver 18's own default), `no` or `strict`.
    public var encrypt = "yes"

    public init() {}

    static func decode(_ options: OptionsReader) -> MSSQLSettings? {
        guard let map = options.map else { return nil }
        var settings = MSSQLSettings()
        if let r = map["driver"], let text = options.ctx.string(r) { settings.driver = text }
        if let r = map["trust_server_certificate"], let b = options.ctx.bool(r) { settings.trustServerCertificate = b }
        if let r = map["encrypt"], let text = options.ctx.choice(r, "encrypt mode", among: ["yes", "no", "strict"]) { settings.encrypt = text }
        if let r = map["cdc"] {
            options.ctx.fail(
                r, "SQL Server CDC reading is not in this build yet",
                hint: "read the table in full or by incremental_column; a postgres source streams CDC")
        }
        return settings
    }

    enum CodingKeys: String, CodingKey {
        case driver
        case trustServerCertificate = "trust_server_certificate"
        case encrypt
    }
}

/// `mssql://user:password@host:port/database` as an ODBC connection string for the chosen driver.
public enum MSSQLConnectionString {
    /// A value in braces when it holds a character the connection-string grammar reserves.
    static func value(_ text: String) -> String {
        text.contains(where: { ";{}= ".contains($0) }) ? "{" + text.replacingOccurrences(of: "}", with: "}}") + "}" : text
    }

    public static func build(_ connection: ResolvedConnection, _ settings: MSSQLSettings) throws -> String {
        guard let url = URLComponents(string: connection.url), let host = url.host, !host.isEmpty else {
            throw DponeError(.manifest, "invalid SQL Server connection \(connection.redactedURL)", hint: "write mssql://user:password@host:1433/database")
        }
        let port = url.port ?? 1433
        let database = url.path.split(separator: "/").first.map(String.init)
        var parts = ["Driver=\(value(settings.driver))"]
        if settings.driver.lowercased().contains("freetds") {
            parts += ["Server=\(value(host))", "Port=\(port)", "TDS_Version=7.4"]
        } else {
            parts += ["Server=\(value("tcp:\(host),\(port)"))", "Encrypt=\(settings.encrypt)"]
            if settings.trustServerCertificate { parts.append("TrustServerCertificate=yes") }
        }
        if let database { parts.append("Database=\(value(database.removingPercentEncoding ?? database))") }
        if let user = url.user { parts.append("UID=\(value(user.removingPercentEncoding ?? user))") }
        if let password = url.password { parts.append("PWD=\(value(password.removingPercentEncoding ?? password))") }
        return parts.joined(separator: ";")
    }
}

extension EndpointType {
    /// The manifest's `type: mssql`.
    public static let mssql: EndpointType = "mssql"
}
