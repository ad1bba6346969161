/// `sink`: where a pipeline writes and how it publishes. Validated like `SourceConfig`, plus the
/// strategy capability table (`StrategyCapabilities`).
public struct SinkConfig: Sendable, Hashable, Encodable {
    public var type: EndpointType
    /// `path` (files only), env-resolved.
    public var path: String?
    public var connection: ConnectionConfig?
    /// `table` (postgres, clickhouse, mssql).
    public var table: TableRef?
    /// `topic` (kafka).
    public var topic: String?
    /// `strategy`; `full_refresh` when absent.
    public var strategy: StrategyConfig
    public var options: SinkOptions

    public init(
        type: EndpointType, path: String? = nil, connection: ConnectionConfig? = nil, table: TableRef? = nil,
        topic: String? = nil, strategy: StrategyConfig = StrategyConfig(), options: SinkOptions = SinkOptions()
    ) {
        self.type = type
        self.path = path
        self.connection = connection
        self.table = table
        self.topic = topic
        self.strategy = strategy
        self.options = options
    }
}
