import Flow

/// One table of a source that reads several (`source.options.cdc.tables` of a postgres source):
/// `public.orders`, or `{table: public.orders, sink_table: replica.orders, sink_topic: cdc.orders,
/// unique_key: [id]}`. Each is a route of the pipeline, with its own sink target.
public struct CDCTableConfig: Sendable, Hashable, Codable {
    /// The replicated table.
    public var table: TableRef
    /// The sink table for it; default: `sink.table` with `{table}` / `{schema}` replaced by the source
    /// table's name / schema, or the source table's name in the sink's default schema.
    public var sinkTable: TableRef?
    /// The Kafka sink topic for it; default: `sink.topic` with `{table}` / `{schema}` replaced.
    public var sinkTopic: String?
    /// The key its changes are applied by; default: `sink.strategy.unique_key`, else the table's
    /// replica identity index or primary key.
    public var uniqueKey: [String]?

    public init(table: TableRef, sinkTable: TableRef? = nil, sinkTopic: String? = nil, uniqueKey: [String]? = nil) {
        self.table = table
        self.sinkTable = sinkTable
        self.sinkTopic = sinkTopic
        self.uniqueKey = uniqueKey
    }
}

/// `source.options`: the shared keys, typed; a connector's own keys in `connector` (decoded by its
/// `EndpointSpec`), or untyped in `extra`.
public struct SourceOptions: Sendable, Hashable, Encodable {
    /// The keys every source accepts.
    public static let sharedKeys = ["incremental_column", "batch_rows", "schema", "columns", "custom_predicate"]

    /// `incremental_column`: the cursor column of an incremental read.
    public var incrementalColumn: String?
    /// `batch_rows`: rows per batch the source emits (positive).
    public var batchRows: Int?
    /// `schema`: a declared schema (`[{name, type, nullable}]`); nullable defaults to true.
    public var schema: Schema?
    /// `columns`: an allowlist of columns to read, in order.
    public var columns: [String]?
    /// `custom_predicate`: an extra row filter pushed to the source.
    public var customPredicate: String?
    /// `lookback` (a source whose spec accepts it): how far behind the cursor a run re-reads
    /// (`'10 minutes'`, `1000`), for rows committed out of order; pair with incremental_merge so
    /// re-read rows are deduplicated by key.
    public var lookback: String?
    /// Several tables read by one source, one route each (`cdc.tables`); empty: `source.table`.
    public var routes: [CDCTableConfig] = []
    /// The connector's own options, typed by it.
    public var connector: AnyConnectorOptions?
    /// Keys of a connector that keeps them untyped, env-resolved.
    public var extra: [String: ManifestValue]

    public init(
        incrementalColumn: String? = nil, batchRows: Int? = nil, schema: Schema? = nil, columns: [String]? = nil,
        customPredicate: String? = nil, extra: [String: ManifestValue] = [:]
    ) {
        self.incrementalColumn = incrementalColumn
        self.batchRows = batchRows
        self.schema = schema
        self.columns = columns
        self.customPredicate = customPredicate
        self.extra = extra
    }

    /// The connector's options when they are a `T`.
    public func connector<T: ConnectorOptions>(_ type: T.Type) -> T? { connector?.value as? T }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: RenderKey.self)
        try c.encodeIfPresent(incrementalColumn, forKey: "incremental_column")
        try c.encodeIfPresent(batchRows, forKey: "batch_rows")
        try c.encodeIfPresent(schema, forKey: "schema")
        try c.encodeIfPresent(columns, forKey: "columns")
        try c.encodeIfPresent(customPredicate, forKey: "custom_predicate")
        try c.encodeIfPresent(lookback, forKey: "lookback")
        if !routes.isEmpty { try c.encode(routes, forKey: "tables") }
        if let connector { try c.encode(connector, forKey: RenderKey(connector.value.renderKey)) }
        if !extra.isEmpty { try c.encode(extra, forKey: "extra") }
    }
}

/// A coding key spelled at the call site (the keys of a manifest section).
struct RenderKey: CodingKey, ExpressibleByStringLiteral {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ key: String) { stringValue = key }
    init(stringLiteral key: String) { stringValue = key }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
