import Flow

/// Everything a Postgres finalizer needs to publish one checkpoint, decided before any SQL runs.
///
/// The staging table holds exactly the rows of the checkpoint, with `columns` (business columns plus
/// any lineage columns). Strategy semantics follow dpone's documented load strategies.
public struct LoadPlan: Sendable {
    public var target: TableName
    public var staging: TableName
    /// Columns copied from staging to target, in order (quoted when rendered).
    public var columns: [String]
    public var uniqueKey: [String]
    public var mode: LoadStrategy
    /// The load's timestamp as a SQL literal (`'2026-11-25 12:00:00.000000+00'::timestamptz`):
    /// one instant for every row the load touches (soft deletes, SCD2 validity).
    public var loadTimestampSQL: String
    /// The staged rows are a complete copy of the source (`CheckpointContext.isComplete`). When
    /// false, `snapshot_diff` and `scd2` apply what was staged but delete or expire nothing: a key
    /// missing from a partial checkpoint only did not change.
    public var complete: Bool
    /// Staging carries each row's operation and order (`TechnicalColumns.operation`, `.sequence`):
    /// `incremental_merge` then keeps each key's last row and removes keys whose last row is a delete.
    public var stagesOperations: Bool

    public init(
        target: TableName, staging: TableName, columns: [String], uniqueKey: [String], mode: LoadStrategy,
        loadTimestampSQL: String, complete: Bool = true, stagesOperations: Bool = false
    ) {
        self.target = target
        self.staging = staging
        self.columns = columns
        self.uniqueKey = uniqueKey
        self.mode = mode
        self.loadTimestampSQL = loadTimestampSQL
        self.complete = complete
        self.stagesOperations = stagesOperations
    }

    /// Whether the mode matches rows by `uniqueKey` (staged keys must then be non-NULL).
    public var matchesByKey: Bool { mode.matchesByKey }
}
