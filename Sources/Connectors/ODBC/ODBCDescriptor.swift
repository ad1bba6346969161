import ConnectorKit
import Flow
import Manifest

/// The `odbc` connector: reads a table or a query from any database with an ODBC driver (Db2,
/// Oracle, Snowflake, Teradata, SQL Server, PostgreSQL, SQLite...), column-wise in blocks.
///
/// ```yaml
/// source:
///   type: odbc
///   connection: {odbc: "Driver={PostgreSQL Unicode};Server=db;Port=5432;Database=app;Uid=u;Pwd=${PW}"}
///   table: public.orders          # or options.query: "SELECT ..."
///   options: {incremental_column: updated_at}
/// ```
public struct ODBCDescriptor: ConnectorDescriptor {
    public init() {}

    public var type: EndpointType { .odbc }
    public var roles: Set<EndpointRole> { [.source] }
    public var address: EndpointAddress { .table }
    /// `options.query` can stand in for `table`.
    public var addressRequired: Bool { false }
    public var urlScheme: String? { "odbc" }
    public var connectionStringKey: String? { "odbc" }
    public var sourceOptionKeys: [String]? { ["query", "text_encoding", "lookback"] }

    public func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {
        var settings = ODBCSourceSettings()
        if let r = options["query"] { settings.query = options.ctx.string(r) }
        if let r = options["text_encoding"], let encoding: ODBCTextEncoding = options.ctx.choice(r, "text encoding") {
            settings.textEncoding = encoding.rawValue
        }
        if settings != ODBCSourceSettings() { source.options.connector = AnyConnectorOptions(settings) }
    }

    public func validate(_ manifest: ManifestDocument, as role: EndpointRole, _ document: DocumentReader) -> Bool {
        guard role == .source else { return true }
        let query = manifest.source.options.connector(ODBCSourceSettings.self)?.query
        if query != nil, manifest.source.table != nil {
            document.fail(["source", "options", "query"], "an odbc source reads source.table or options.query, not both")
            return false
        }
        if query == nil, manifest.source.table == nil {
            document.fail(
                ["source"], "missing required key 'table' (an odbc source reads a table or options.query)",
                hint: "add table: schema.name, or options: {query: \"SELECT ...\"}")
            return false
        }
        return true
    }

    public func describe(source: SourceConfig) -> String {
        "odbc \(source.table.map { [$0.schema, $0.name].compactMap { $0 }.joined(separator: ".") } ?? "query") (\(source.connection?.resolved.redactedURL ?? ""))"
    }

    public func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        try request.refuseContinuous()
        let config = request.config
        guard let connection = config.connection else { throw DponeError(.manifest, "an odbc source needs a connection") }
        let options = ODBCSourceOptions(
            connectionString: connection.resolved.url, schema: config.table?.schema, table: config.table?.name,
            query: config.options.connector(ODBCSourceSettings.self)?.query, columns: config.options.columns,
            customPredicate: config.options.customPredicate, incrementalColumn: config.options.incrementalColumn,
            batchRows: config.options.batchRows ?? ODBCSourceOptions.defaultBatchRows,
            lookback: config.options.lookback,
            textEncoding: config.options.connector(ODBCSourceSettings.self)?.textEncoding.flatMap(ODBCTextEncoding.init) ?? .automatic)
        return try ODBCSource(name: "odbc:\(options.target)", options: options)
    }
}

/// `source.options` of an odbc source beyond the shared keys.
public struct ODBCSourceSettings: ConnectorOptions, Hashable, Codable {
    public var renderKey: String { "odbc" }
    /// `query`: a SELECT read instead of a table.
    public var query: String?
    /// `text_encoding`: `automatic` (default), `utf16` or `utf8` (`ODBCTextEncoding`).
    public var textEncoding: String?

    public init(query: String? = nil, textEncoding: String? = nil) {
        self.query = query
        self.textEncoding = textEncoding
    }

    enum CodingKeys: String, CodingKey {
        case query
        case textEncoding = "text_encoding"
    }
}

extension EndpointType {
    /// The manifest's `type: odbc`.
    public static let odbc: EndpointType = "odbc"
}
