import ConnectorKit
import Flow
import Foundation
import ODBCConnector

/// What a SQL Server sink is told: where, how it publishes, and through which driver.
public struct MSSQLSinkOptions: Sendable {
    /// The ODBC connection string (built from the manifest's `mssql://` URL and `options.driver`).
    public var connectionString: String
    public var target: TSQLTable
    public var mode: LoadStrategy
    public var uniqueKey: [String]
    public var loadID: String
    /// The ledger, beside the target by default (`<schema>.__dpone__loads`).
    public var ledger: TSQLTable
    /// Rows per parameter-array insert are capped by this byte budget.
    public var bufferBytes = 8 << 20

    public init(connectionString: String, target: TSQLTable, mode: LoadStrategy, uniqueKey: [String] = [], loadID: String) {
        self.connectionString = connectionString
        self.target = target
        self.mode = mode
        self.uniqueKey = uniqueKey
        self.loadID = loadID
        self.ledger = TSQLTable(schema: target.schema, name: "__dpone__loads")
    }

    /// `[schema].[__dpone__stg_<load id>_<table>]`.
    public var staging: TSQLTable { TSQLTable(schema: target.schema, name: "__dpone__stg_\(loadID)_\(target.name)") }
}

/// Stages batches into a regular table beside the target through ODBC parameter arrays, and
/// publishes each checkpoint with `StagedTableDriver` over `MSSQLDialect`: one `SET XACT_ABORT ON`
/// transaction holding the ledger lookup, the staging checks, the strategy's T-SQL, the ledger row
/// and the staging drop.
public actor MSSQLSink: SinkOperator {
    public nonisolated let name: String
    public nonisolated let options: MSSQLSinkOptions
    private var connection: ODBCConnection?
    private var columns: [String] = []
    private var staged = false

    public init(name: String = "mssql", options: MSSQLSinkOptions) {
        self.name = name
        self.options = options
    }

    private func connected() async throws -> ODBCConnection {
        if let connection { return connection }
        do {
            let fresh = try await ODBCConnection.connect(options.connectionString)
            connection = fresh
            return fresh
        } catch let error as ODBCError {
            throw error.dponeError(.sink)
        }
    }

    public func open(schema: Schema) async throws {
        let connection = try await connected()
        columns = schema.fields.map(\.name)
        let targetSchema = Self.targetSchema(schema, mode: options.mode)
        try await run {
            try await connection.execute(
                "IF OBJECT_ID(\(self.options.target.objectLiteral), N'U') IS NULL \(TSQLTypes.createTable(self.options.target, targetSchema))")
            try await connection.execute(TSQLLedger.ddl(self.options.ledger))
            try await connection.execute("DROP TABLE IF EXISTS \(self.options.staging.sql)")
            try await connection.execute(TSQLTypes.createTable(self.options.staging, schema))
        }
        staged = true
    }

    /// The target's columns: the staged ones plus what the strategy keeps per row (SCD2 validity,
    /// a soft delete's timestamp).
    static func targetSchema(_ schema: Schema, mode: LoadStrategy) -> Schema {
        var fields = schema.fields
        switch mode {
        case .scd2:
            fields += [
                Field(TechnicalColumns.validFrom, .timestamp(withTimeZone: false)), Field(TechnicalColumns.validTo, .timestamp(withTimeZone: false)),
                Field(TechnicalColumns.isCurrent, .bool),
            ]
        case .snapshotDiff(.softDelete):
            fields.append(Field(TechnicalColumns.deletedAt, .timestamp(withTimeZone: false)))
        default:
            break
        }
        return Schema(fields)
    }

    public func write(_ batch: Batch) async throws {
        guard batch.rowCount > 0 else { return }
        let connection = try await connected()
        try await run { _ = try await connection.insert(into: self.options.staging.sql, batch, bufferBytes: self.options.bufferBytes) }
    }

    public func finalize(_ context: CheckpointContext) async throws -> SinkCommit {
        let connection = try await connected()
        var dialect = MSSQLDialect(connection: connection, options: options, columns: columns, complete: context.isComplete)
        let commit = try await StagedTableDriver.publish(context, through: &dialect)
        // The next checkpoint stages into a fresh table.
        try await run { try await connection.execute(TSQLTypes.createTableLike(self.options.staging, self.options.target, columns: self.columns)) }
        return commit
    }

    public func abort() async {
        guard let connection else { return }
        _ = try? await connection.execute("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION")
        _ = try? await connection.execute("DROP TABLE IF EXISTS \(options.staging.sql)")
    }

    public func close() async {
        guard let connection else { return }
        _ = try? await connection.execute("DROP TABLE IF EXISTS \(options.staging.sql)")
        await connection.close()
        self.connection = nil
    }

    public func newestPublished(pipeline: String) async throws -> PublishedCheckpoint? {
        let connection = try await connected()
        return try await run {
            let exists = try await connection.query("SELECT OBJECT_ID(\(self.options.ledger.objectLiteral), N'U')")
            guard exists.first?.first.flatMap({ $0 }) != nil else { return nil }
            let rows = try await connection.query(
                "SELECT TOP 1 [checkpoint], [positions] FROM \(self.options.ledger.sql) WHERE [pipeline] = \(TSQL.literal(pipeline)) AND [target] = \(TSQL.literal(self.options.target.description)) ORDER BY [checkpoint] DESC")
            guard let row = rows.first, let text = row[0], let id = UInt64(text) else { return nil }
            return PublishedCheckpoint(id: CheckpointID(id), positions: row[1].flatMap { try? JSONDecoder().decode(StateValue.self, from: Data($0.utf8)) })
        }
    }

    /// `body`, with ODBC errors as sink errors.
    private func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ODBCError {
            throw error.dponeError(.sink)
        }
    }
}
