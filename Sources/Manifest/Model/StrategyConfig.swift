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
/// type offers, and its default, is in `StrategyCapabilities.mergePolicies(for:)`.
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

/// `sink.strategy`. Validated: the sink type supports `mode`, and key-matching modes have a `uniqueKey`.
public struct StrategyConfig: Sendable, Hashable, Codable {
    public var mode: LoadMode
    /// `unique_key` (a string or a list in YAML); empty when not given.
    public var uniqueKey: [String]
    /// `only_new_rows`; default false.
    public var onlyNewRows: Bool
    /// `overwrite_type`; default `truncate_insert`.
    public var overwriteType: OverwriteType
    /// `custom_predicate`: the window a `replace` load rewrites.
    public var customPredicate: String?
    /// `merge_policy`; nil means the sink type's default (`StrategyCapabilities.mergePolicies`).
    public var mergePolicy: MergePolicy?
    /// `duplicate_policy`: `fail` (a key staged twice in one checkpoint fails it before the target
    /// changes) or `last` (the last staged row of a key wins: a Kafka topic's later message). nil:
    /// `last` for Kafka sources into a Postgres sink, `fail` otherwise.
    public var duplicatePolicy: String?
    /// `diff.delete_policy`; default `hard_delete`.
    public var diffDeletePolicy: DiffDeletePolicy = .hardDelete
    /// `scd2.delete_policy`; default `expire`.
    public var historyDeletePolicy: HistoryDeletePolicy = .expire
    /// `partition.column`: the column whose values name the partitions a `partition_replace` rewrites.
    public var partitionColumn: String?
    /// `partition.max_partitions_per_run`; default 64. A load touching more fails before any write.
    public var maxPartitionsPerRun: Int = 64

    public init(
        mode: LoadMode = .fullRefresh, uniqueKey: [String] = [], onlyNewRows: Bool = false,
        overwriteType: OverwriteType = .truncateInsert, customPredicate: String? = nil
    ) {
        self.mode = mode
        self.uniqueKey = uniqueKey
        self.onlyNewRows = onlyNewRows
        self.overwriteType = overwriteType
        self.customPredicate = customPredicate
    }

    enum CodingKeys: String, CodingKey {
        case mode
        case uniqueKey = "unique_key"
        case onlyNewRows = "only_new_rows"
        case overwriteType = "overwrite_type"
        case customPredicate = "custom_predicate"
        case mergePolicy = "merge_policy"
        case duplicatePolicy = "duplicate_policy"
        case diffDeletePolicy = "diff_delete_policy"
        case historyDeletePolicy = "scd2_delete_policy"
        case partitionColumn = "partition_column"
        case maxPartitionsPerRun = "max_partitions_per_run"
    }
}
