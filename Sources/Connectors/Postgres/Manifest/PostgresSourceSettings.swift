import Flow
import Manifest

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
        slot: String, publication: String, create: Bool = true, snapshotParallelism: Int? = nil
    ) {
        self.slot = slot
        self.publication = publication
        self.create = create
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


/// The postgres keys of `source.options` (`cdc.tables` become `SourceOptions.routes`).
public struct PostgresSourceSettings: ConnectorOptions, Hashable, Codable {
    public var renderKey: String { "postgres" }

    /// `incremental_strategy`: `column` (with `incremental_column`) or `xmin`.
    public var incrementalStrategy: IncrementalStrategy?
    /// `unbounded_numeric`: `exact` (default), `text` or `fail`.
    public var unboundedNumeric: UnboundedNumericPolicy = .exact
    /// `cdc`: logical-replication CDC (`dpone stream` only).
    public var cdc: PostgresCDCOptions?
    /// `poll_interval` (seconds; written `5s`, `500ms`, `1m`): `dpone stream` re-reads an incremental
    /// source (xmin or incremental_column) this long after each durable checkpoint.
    public var pollInterval: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case incrementalStrategy = "incremental_strategy"
        case unboundedNumeric = "unbounded_numeric"
        case cdc
        case pollInterval = "poll_interval"
    }
}

extension SourceOptions {
    /// The postgres keys (all defaults for another source).
    public var postgres: PostgresSourceSettings {
        get { connector(PostgresSourceSettings.self) ?? PostgresSourceSettings() }
        set { connector = AnyConnectorOptions(newValue) }
    }

    public var incrementalStrategy: IncrementalStrategy? {
        get { postgres.incrementalStrategy }
        set { postgres.incrementalStrategy = newValue }
    }

    public var unboundedNumeric: UnboundedNumericPolicy {
        get { postgres.unboundedNumeric }
        set { postgres.unboundedNumeric = newValue }
    }

    public var cdc: PostgresCDCOptions? {
        get { postgres.cdc }
        set { postgres.cdc = newValue }
    }

    public var pollInterval: Double? {
        get { postgres.pollInterval }
        set { postgres.pollInterval = newValue }
    }
}
