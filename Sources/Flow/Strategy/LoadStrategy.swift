/// The one load-strategy vocabulary: the manifest's names (`LoadMode` and its policies, decoded from
/// `sink.strategy`) and `LoadStrategy`, a mode with its parameters resolved, which every sink
/// publishes by. Which sink type offers which mode is the manifest's capability table.

/// How a sink publishes what a run read (`sink.strategy.mode`).
public enum LoadMode: String, Sendable, Hashable, Codable, CaseIterable {
    case fullRefresh = "full_refresh"
    case incrementalAppend = "incremental_append"
    case incrementalMerge = "incremental_merge"
    case replace
    case partitionReplace = "partition_replace"
    case snapshotDiff = "snapshot_diff"
    case scd2
    case cdcApply = "cdc_apply"
    case backfill

    /// Modes that match rows by key and therefore need `unique_key`.
    public var requiresUniqueKey: Bool {
        self == .incrementalMerge || self == .snapshotDiff || self == .scd2
    }
}

/// How a full refresh replaces the target (`sink.strategy.overwrite_type`).
public enum OverwriteType: String, Sendable, Hashable, Codable, CaseIterable {
    case truncateInsert = "truncate_insert"
    case exchange
}

/// How `incremental_merge` applies staged rows (`sink.strategy.merge_policy`). Which policies a sink
/// type offers, and its default, is in its connector's `EndpointSpec.mergePolicies`.
public enum MergePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Postgres (default): delete target rows whose key is staged, then insert every staged row.
    case deleteInsert = "delete_insert"
    /// Postgres: `INSERT ... ON CONFLICT (key) DO UPDATE`: needs a unique index on the key.
    case upsert
    /// ClickHouse (default): insert every staged row into a `ReplacingMergeTree(__dpone__version)`;
    /// readers deduplicate with `FINAL` (or argMax) until background merges collapse versions.
    case replacingMergeTree = "replacing_merge_tree"
    /// ClickHouse: delete the staged keys from a plain `MergeTree` (awaited mutation or lightweight
    /// DELETE), then insert; plain `SELECT`s are exact once the load returns.
    case mutationDeleteInsert = "mutation_delete_insert"
    /// ClickHouse: build a copy (target rows whose key is not staged + staged rows) and swap it in
    /// (EXCHANGE TABLES, or RENAME on old servers); costs a table rewrite, needs no mutation.
    case shadowSwap = "shadow_swap"
}

/// What `snapshot_diff` does with target keys missing from the snapshot (`sink.strategy.diff.delete_policy`).
public enum DiffDeletePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    case hardDelete = "hard_delete"
    /// Sets `__dpone__deleted_at` to the load time.
    case softDelete = "soft_delete"
    case ignore
}

/// What `scd2` does with current versions whose key is missing from the snapshot
/// (`sink.strategy.scd2.delete_policy`).
public enum HistoryDeletePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Close the current version (`__dpone__valid_to_at` = load time, `__dpone__is_current` = false).
    case expire
    case ignore
}

/// A load mode with its parameters resolved: what a sink publishes on each checkpoint.
public enum LoadStrategy: Sendable, Hashable {
    /// Replace the whole target with the staged rows (how: `OverwriteType`; ClickHouse always swaps).
    case fullRefresh(OverwriteType)
    /// Insert the staged rows; with `onlyNewRows`, only keys not yet in the target.
    case incrementalAppend(onlyNewRows: Bool)
    /// Upsert the staged rows by key (how: `MergePolicy`).
    case incrementalMerge(MergePolicy)
    /// Delete the target rows matching `predicate` (the sink's SQL), insert the staged rows, which must
    /// all match it.
    case replace(predicate: String)
    /// Replace exactly the partitions (values of `column`) present in staging; more than
    /// `maxPartitions` of them fail the checkpoint before the target changes.
    case partitionReplace(column: String, maxPartitions: Int)
    /// Make the target equal to the staged snapshot by key: insert new keys, rewrite rows whose
    /// `__dpone__row_hash` changed, apply the delete policy to keys missing from the snapshot.
    case snapshotDiff(DiffDeletePolicy)
    /// Type-2 history by key: a changed row closes the current version and adds a new one; missing
    /// keys handled by the delete policy.
    case scd2(HistoryDeletePolicy)
    /// Apply change events (CDC) by key: per key the last event wins; deletes remove the row; an
    /// event at or below what the target already applied is ignored.
    case cdcApply

    /// The manifest's name of the mode.
    public var mode: LoadMode {
        switch self {
        case .fullRefresh: .fullRefresh
        case .incrementalAppend: .incrementalAppend
        case .incrementalMerge: .incrementalMerge
        case .replace: .replace
        case .partitionReplace: .partitionReplace
        case .snapshotDiff: .snapshotDiff
        case .scd2: .scd2
        case .cdcApply: .cdcApply
        }
    }

    public var name: String { mode.rawValue }

    public var isIncrementalMerge: Bool { if case .incrementalMerge = self { true } else { false } }

    /// Whether the strategy matches staged rows to target rows by the unique key (staged keys must
    /// then be non-NULL).
    public var matchesByKey: Bool {
        switch self {
        case .fullRefresh, .replace, .partitionReplace: false
        case .incrementalAppend(let onlyNew): onlyNew
        case .incrementalMerge, .snapshotDiff, .scd2, .cdcApply: true
        }
    }

    /// Whether a key staged twice in one checkpoint is an error. Change events repeat keys by
    /// nature: `cdc_apply` only refuses NULL keys.
    public var refusesDuplicateKeys: Bool { matchesByKey && self != .cdcApply }

    /// Whether the strategy treats target keys missing from staging as deleted (`snapshot_diff`
    /// with `hard_delete` or `soft_delete`, `scd2` with `expire`): only sound on a checkpoint that is
    /// a complete copy of the source (`CheckpointContext.isComplete`).
    public var detectsDeletes: Bool {
        switch self {
        case .snapshotDiff(.hardDelete), .snapshotDiff(.softDelete), .scd2(.expire): true
        default: false
        }
    }
}
