/// `source`: where a pipeline reads. Validated: `path` iff files, `table` for database types,
/// `topic` for kafka, a connection for every type but files.
public struct SourceConfig: Sendable, Hashable, Encodable {
    public var type: EndpointType
    /// `path` (files only), env-resolved, as written (relative to the working directory).
    public var path: String?
    public var connection: ConnectionConfig?
    /// `table` (postgres, clickhouse, mssql).
    public var table: TableRef?
    /// `topic` (kafka).
    public var topic: String?
    public var options: SourceOptions

    public init(
        type: EndpointType, path: String? = nil, connection: ConnectionConfig? = nil, table: TableRef? = nil,
        topic: String? = nil, options: SourceOptions = SourceOptions()
    ) {
        self.type = type
        self.path = path
        self.connection = connection
        self.table = table
        self.topic = topic
        self.options = options
    }
}
