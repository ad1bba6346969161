/// The system a source reads from or a sink writes to.
public enum EndpointType: String, Sendable, Hashable, Codable, CaseIterable {
    case files
    case postgres
    case clickhouse
    case kafka
    case mssql
    case rest

    /// Types addressed by `table: {schema, name}`.
    public var isDatabase: Bool { self == .postgres || self == .clickhouse || self == .mssql }

    /// Types that need a connection (`connection_ref` or `connection`).
    public var needsConnection: Bool { self != .files }

    /// Types that can be a sink (REST is source-only).
    public static let sinkTypes: [EndpointType] = [.files, .postgres, .clickhouse, .kafka, .mssql]

    /// The URL scheme used when a connection is assembled from parts.
    public var urlScheme: String {
        switch self {
        case .files: "file"
        case .postgres: "postgresql"
        case .clickhouse: "clickhouse"
        case .kafka: "kafka"
        case .mssql: "mssql"
        case .rest: "https"
        }
    }
}
