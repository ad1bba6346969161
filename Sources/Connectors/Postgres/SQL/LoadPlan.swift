import Flow

/// Everything a Postgres finalizer needs to publish one checkpoint, decided before any SQL runs.
///
/// The staging table holds exactly the rows of the checkpoint, with `columns` (business columns plus
/// any lineage columns). Strategy semantics follow dpone's documented load strategies.
public struct LoadPlan: Sendable {
    public enum Mode: Sendable, Equatable {
        public enum Overwrite: String, Sendable { case truncateInsert = "truncate_insert", exchange }
        public enum MergePolicy: String, Sendable { case deleteInsert = "delete_insert", upsert }
        public enum DiffDeletePolicy: String, Sendable { case hardDelete = "hard_delete", softDelete = "soft_delete", ignore }
        public enum HistoryDeletePolicy: String, Sendable { case expire, ignore }

        /// Replace the whole target with the staged rows.
        case fullRefresh(Overwrite)
        /// Insert the staged rows; with `onlyNewRows`, only keys not yet in the target.
        case incrementalAppend(onlyNewRows: Bool)
        /// Upsert the staged rows by key.
        case incrementalMerge(MergePolicy)
        /// Delete the rows matching `predicate` (SQL over target columns), insert the staged rows.
        case replace(predicate: String)
        /// Make the target equal to the staged snapshot: insert new keys, rewrite changed rows
        /// (by `__dpone__row_hash`), apply the delete policy to keys missing from the snapshot.
        case snapshotDiff(DiffDeletePolicy)
        /// Type-2 history: expire changed current versions, insert new versions.
        case scd2(HistoryDeletePolicy)
        /// Replace exactly the partitions (values of `column`) present in staging: delete their rows,
        /// insert the staged rows. A partition that became empty in the source is not touched.
        case partitionReplace(column: String, maxPartitions: Int)
        /// Apply change events (CDC) by key: per key the last staged event (by `__dpone__lsn`, then
        /// staging order) wins; deletes remove the row, other events upsert it; an event whose lsn is
        /// not above the row's stored `__dpone__lsn` is ignored, so a replay is harmless. Columns an
        /// event lists in `__dpone__unchanged` (unchanged TOAST) keep their current value.
        case cdcApply

        /// Whether the mode treats target keys missing from staging as deleted (`snapshot_diff`
        /// with `hard_delete` or `soft_delete`, `scd2` with `expire`): only sound when the checkpoint
        /// is a complete copy of the source (`LoadPlan.complete`).
        public var detectsDeletes: Bool {
            switch self {
            case .snapshotDiff(.hardDelete), .snapshotDiff(.softDelete), .scd2(.expire): true
            default: false
            }
        }
    }

    public var target: TableName
    public var staging: TableName
    /// Columns copied from staging to target, in order (quoted when rendered).
    public var columns: [String]
    public var uniqueKey: [String]
    public var mode: Mode
    /// The load's timestamp as a SQL literal (`'2026-11-25 12:00:00.000000+00'::timestamptz`):
    /// one instant for every row the load touches (soft deletes, SCD2 validity).
    public var loadTimestampSQL: String
    /// The staged rows are a complete copy of the source (`CheckpointContext.isComplete`). When
    /// false, `snapshot_diff` and `scd2` apply what was staged but delete or expire nothing: a key
    /// missing from a partial checkpoint only did not change.
    public var complete: Bool

    public init(
        target: TableName, staging: TableName, columns: [String], uniqueKey: [String], mode: Mode,
        loadTimestampSQL: String, complete: Bool = true
    ) {
        self.target = target
        self.staging = staging
        self.columns = columns
        self.uniqueKey = uniqueKey
        self.mode = mode
        self.loadTimestampSQL = loadTimestampSQL
        self.complete = complete
    }

    /// Whether the mode matches rows by `uniqueKey` (and so needs staged keys to be non-NULL and unique).
    public var matchesByKey: Bool {
        switch mode {
        case .fullRefresh, .replace, .partitionReplace: false
        case .incrementalAppend(let onlyNew): onlyNew
        case .incrementalMerge, .snapshotDiff, .scd2, .cdcApply: true
        }
    }
}
