import Flow

/// How a source reads incrementally (`source.options.incremental_strategy`).
public enum IncrementalStrategy: String, Sendable, Hashable, Codable, CaseIterable {
    /// A cursor column (`incremental_column`).
    case column
    /// PostgreSQL transaction ids: rows written by transactions committed since the last run.
    case xmin
}

/// How a Postgres `numeric` without precision (or wider than 38 digits) is read.
public enum UnboundedNumericPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Read it exactly as `numeric` (default): any precision, mapped per sink to its widest exact
    /// type (Postgres numeric, ClickHouse Decimal(76, 20)).
    case exact
    /// Refuse the column with a clear error: no silent rounding.
    case fail
    /// Read its exact text into a string column.
    case text
}

/// `source.options.cdc` of a postgres source: read the table's changes through logical replication
/// (`dpone stream` only).
public struct PostgresCDCOptions: Sendable, Hashable, Codable {
    /// The logical replication slot (`[a-z0-9_]{1,63}`).
    public var slot: String
    /// The publication the slot streams (created for the table when missing and `create` is true).
    public var publication: String
    /// Create the publication and the slot (with an initial snapshot) when the slot is missing.
    public var create: Bool
    /// `tables`: several tables on this slot, each applied to its own sink target (instead of
    /// `source.table`). Empty: the source's one table.
    public var tables: [CDCTableConfig]
    /// `snapshot_parallelism`: parts (tables, page ranges of large tables) the initial snapshot
    /// copies at once (default 2).
    public var snapshotParallelism: Int?
    /// `snapshot_range_mb`: a table larger than this is copied as ctid ranges of about this size
    /// (default 256).
    public var snapshotRangeMB: Int?
    /// `on_truncate`: `fail` (default) stops the stream when a replicated table is truncated;
    /// `truncate_target` empties the sink's target at that point of the stream.
    public var onTruncate: TruncatePolicy = .fail

    public init(
        slot: String, publication: String, create: Bool = true, tables: [CDCTableConfig] = [], snapshotParallelism: Int? = nil
    ) {
        self.slot = slot
        self.publication = publication
        self.create = create
        self.tables = tables
        self.snapshotParallelism = snapshotParallelism
    }

    /// PostgreSQL's rule for slot names.
    public static func isValidSlotName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 63
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}

/// What `dpone stream` does when a replicated table is truncated (`cdc.on_truncate`).
public enum TruncatePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Stop with an error that names the table (the default: a TRUNCATE is rarely meant for the copy).
    case fail
    /// Empty the target at that point of the stream; changes after the TRUNCATE apply.
    case truncateTarget = "truncate_target"
}

/// One entry of `source.options.cdc.tables`: `public.orders`, or
/// `{table: public.orders, sink_table: replica.orders, sink_topic: cdc.orders, unique_key: [id]}`.
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

/// `source.options`. Common keys are typed; `file` is set exactly when the source type is `files`.
public struct SourceOptions: Sendable, Hashable, Codable {
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
    /// `incremental_strategy`: `column` (with `incremental_column`) or `xmin` (postgres).
    public var incrementalStrategy: IncrementalStrategy?
    /// `lookback`: how far behind the cursor a run re-reads (`'10 minutes'`, `1000`), for rows committed
    /// out of order; pair with incremental_merge so re-read rows are deduplicated by key.
    public var lookback: String?
    /// `unbounded_numeric`: `exact` (default), `text` or `fail`.
    public var unboundedNumeric: UnboundedNumericPolicy = .exact
    /// File layout; non-nil iff the source type is `files`.
    public var file: FileOptions?
    /// Kafka keys; non-nil iff the source type is `kafka` and options are given.
    public var kafka: KafkaOptions?
    /// `cdc`: logical-replication CDC (postgres sources, `dpone stream` only).
    public var cdc: PostgresCDCOptions?
    /// `poll_interval` (seconds; written `5s`, `500ms`, `1m`): `dpone stream` re-reads an incremental
    /// postgres source (xmin or incremental_column) this long after each durable checkpoint.
    public var pollInterval: Double?
    /// Connector-specific keys not modelled here (non-files types only), env-resolved.
    public var extra: [String: ManifestValue]

    public init(
        incrementalColumn: String? = nil, batchRows: Int? = nil, schema: Schema? = nil, columns: [String]? = nil,
        customPredicate: String? = nil, file: FileOptions? = nil, extra: [String: ManifestValue] = [:]
    ) {
        self.incrementalColumn = incrementalColumn
        self.batchRows = batchRows
        self.schema = schema
        self.columns = columns
        self.customPredicate = customPredicate
        self.file = file
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey {
        case incrementalColumn = "incremental_column"
        case batchRows = "batch_rows"
        case schema, columns
        case customPredicate = "custom_predicate"
        case incrementalStrategy = "incremental_strategy"
        case lookback
        case unboundedNumeric = "unbounded_numeric"
        case file, extra, kafka, cdc
    }
}
