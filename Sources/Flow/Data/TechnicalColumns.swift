/// The one set of column names dpone adds to batches, staging tables and targets. Every name starts
/// with `prefix`; a business column must not (`isReserved`). Types are per sink (see each sink's
/// target shape); the meaning is the same everywhere.
public enum TechnicalColumns {
    public static let prefix = "__dpone__"

    // Lineage (the `lineage` and `row_hash` sink options; `snapshot_diff` and `scd2` stage the hash).
    /// The load's ULID (string, same for every row of a load).
    public static let loadID = "__dpone__load_id"
    /// When the load started (timestamptz, µs).
    public static let loadedAt = "__dpone__loaded_at"
    /// SHA-256 of the row's business columns (string, 64 lowercase hex digits); see `RowHash`. A
    /// changed hash is a changed row for `snapshot_diff` and `scd2`.
    public static let rowHash = "__dpone__row_hash"

    // Strategies.
    /// When `snapshot_diff` with `soft_delete` marked the row deleted; NULL while live.
    public static let deletedAt = "__dpone__deleted_at"
    /// When the `scd2` version became current.
    public static let validFrom = "__dpone__valid_from_at"
    /// When the `scd2` version stopped being current; NULL while current.
    public static let validTo = "__dpone__valid_to_at"
    /// Whether the row is the current `scd2` version of its key.
    public static let isCurrent = "__dpone__is_current"
    /// ClickHouse: the checkpoint that published the row (every target).
    public static let checkpoint = "__dpone__checkpoint"
    /// ClickHouse: the `ReplacingMergeTree` version (the checkpoint for `incremental_merge`, the lsn
    /// for `cdc_apply`).
    public static let version = "__dpone__version"
    /// ClickHouse `cdc_apply`: 1 on a row that records a delete (readers filter it after `FINAL`).
    public static let isDeleted = "__dpone__is_deleted"

    // Change data (`cdc_apply`), shared by the CDC source and the sinks that apply it.
    /// The change's position (Int64; for PostgreSQL its transaction's commit LSN plus one): on every
    /// row a CDC source emits, ordered like the commits; sinks keep it.
    public static let lsn = "__dpone__lsn"
    /// A JSON array of the column names an update left unchanged (TOAST), or NULL (staged only).
    public static let unchanged = "__dpone__unchanged"
    /// In `unchanged`: the update moved the row to a new key (the staged row just before it is the
    /// delete of the old key); its unchanged columns come from the old key's row.
    public static let movedMarker = "__dpone__moved"
    /// The row operation (0 insert, 1 update, 2 delete, 3 upsert), added by the sink (staged only).
    public static let operation = "__dpone__op"
    /// Staging order within a checkpoint, added by the sink (staged only).
    public static let sequence = "__dpone__seq"

    /// Whether `name` is a dpone column rather than a business column.
    public static func isReserved(_ name: String) -> Bool { name.hasPrefix(prefix) }
}
