import Flow

/// How a `ClickHouseSink` publishes each checkpoint (see `ClickHouseSink` for the SQL of each).
public enum ClickHouseLoadMode: Sendable, Equatable {
    /// Replace the whole target with the staged rows (EXCHANGE TABLES, or a RENAME swap on old servers).
    case fullRefresh
    /// Insert the staged rows; with `onlyNewRows`, only keys not yet in the target.
    case incrementalAppend(onlyNewRows: Bool)
    /// Upsert by key through `ReplacingMergeTree(__dpone__version)`: read with `FINAL` (or argMax).
    case incrementalMerge
    /// Replace exactly the partitions (values of `column`) present in staging.
    case partitionReplace(column: String, maxPartitions: Int)
    /// Not available for ClickHouse sinks in this build (`open` throws a usage error).
    case replace(predicate: String)
    /// Not available for ClickHouse sinks in this build (`open` throws a usage error).
    case snapshotDiff
    /// Not available for ClickHouse sinks in this build (`open` throws a usage error).
    case scd2

    /// The manifest's name of the mode.
    public var name: String {
        switch self {
        case .fullRefresh: "full_refresh"
        case .incrementalAppend: "incremental_append"
        case .incrementalMerge: "incremental_merge"
        case .partitionReplace: "partition_replace"
        case .replace: "replace"
        case .snapshotDiff: "snapshot_diff"
        case .scd2: "scd2"
        }
    }

    /// Whether the mode matches rows by the unique key (staged keys must then be non-NULL and unique).
    public var matchesByKey: Bool {
        switch self {
        case .incrementalAppend(let onlyNew): onlyNew
        case .incrementalMerge: true
        default: false
        }
    }
}

/// Where and how a `ClickHouseSink` publishes.
public struct ClickHouseSinkOptions: Sendable {
    /// The server's HTTP URL (credentials in it are sent as headers, never logged).
    public var url: String
    public var target: ClickHouseTableName
    public var mode: ClickHouseLoadMode
    public var uniqueKey: [String]
    /// Names the attempt-local tables (`__dpone__stg_<load id>_<table>`); random when nil.
    public var loadID: String?
    /// The idempotency ledger: one row per published (pipeline, target, checkpoint).
    /// Default `<target database>.__dpone__loads`.
    public var ledger: ClickHouseTableName
    /// How long to wait for an `ALTER TABLE ... DELETE` mutation on servers without `mutations_sync`.
    public var mutationTimeoutSeconds: Double

    public init(
        url: String, target: ClickHouseTableName, mode: ClickHouseLoadMode, uniqueKey: [String] = [],
        loadID: String? = nil, ledger: ClickHouseTableName? = nil, mutationTimeoutSeconds: Double = 600
    ) {
        self.url = url
        self.target = target
        self.mode = mode
        self.uniqueKey = uniqueKey
        self.loadID = loadID
        self.ledger = ledger ?? ClickHouseTableName(database: target.database, name: "__dpone__loads")
        self.mutationTimeoutSeconds = mutationTimeoutSeconds
    }

    /// Throws `DponeError(.usage)` for a mode this build does not publish to ClickHouse, and
    /// `DponeError(.schema)` for options the incoming schema cannot satisfy. Pure.
    func validate(against schema: Schema) throws {
        switch mode {
        case .replace, .snapshotDiff, .scd2:
            throw DponeError(
                .usage, "mode \(mode.name) is not available for clickhouse sinks in this build",
                hint: "use full_refresh, incremental_append, incremental_merge or partition_replace",
                context: ["table": target.description])
        case .incrementalMerge, .incrementalAppend(onlyNewRows: true):
            if uniqueKey.isEmpty {
                throw DponeError(.usage, "mode \(mode.name) needs a unique_key", context: ["table": target.description])
            }
        case .partitionReplace(let column, _):
            if schema.index(of: column) == nil {
                throw DponeError(
                    .schema, "partition column \(column) is not among the source columns (\(schema.names.joined(separator: ", ")))",
                    context: ["table": target.description])
            }
        default:
            break
        }
        for key in uniqueKey where schema.index(of: key) == nil {
            throw DponeError(
                .schema, "unique_key column \(key) is not among the source columns (\(schema.names.joined(separator: ", ")))",
                context: ["table": target.description])
        }
        for field in schema.fields where field.name.hasPrefix("__dpone__checkpoint") || field.name == ClickHouseTechnicalColumns.version {
            throw DponeError(.schema, "source column \(field.name) collides with a dpone technical column", context: ["table": target.description])
        }
    }
}
