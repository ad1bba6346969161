import Flow

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
    /// `backfill`: the chunked historical load of `mode: backfill`.
    public var backfill: BackfillConfig?

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
        case backfill
    }
}

extension StrategyConfig {
    /// The strategy `sink` publishes by: the mode with its parameters and the sink
    /// type's default merge policy. Throws for `backfill` (a backfill runs chunk by chunk, each with
    /// its inner mode: `BackfillRunner`) and for a mode whose required parameter is missing
    /// (validation reports those first).
    public func loadStrategy(for sink: any EndpointSpec) throws -> LoadStrategy {
        switch mode {
        case .fullRefresh:
            return .fullRefresh(overwriteType)
        case .incrementalAppend:
            return .incrementalAppend(onlyNewRows: onlyNewRows)
        case .incrementalMerge:
            guard let policy = sink.mergePolicy(mergePolicy) else {
                throw DponeError(.manifest, "a \(sink.type.rawValue) sink has no incremental_merge policy")
            }
            return .incrementalMerge(policy)
        case .replace:
            guard let predicate = customPredicate else {
                throw DponeError(.manifest, "strategy mode replace needs custom_predicate")
            }
            return .replace(predicate: predicate)
        case .partitionReplace:
            guard let column = partitionColumn else {
                throw DponeError(.manifest, "strategy mode partition_replace needs partition.column")
            }
            return .partitionReplace(column: column, maxPartitions: maxPartitionsPerRun)
        case .snapshotDiff:
            return .snapshotDiff(diffDeletePolicy)
        case .scd2:
            return .scd2(historyDeletePolicy)
        case .cdcApply:
            return .cdcApply
        case .backfill:
            throw DponeError(
                .internal, "a backfill publishes chunk by chunk with its inner mode, never as one load",
                hint: "run it with `dpone batch` (or `dpone backfill`), which plans the chunks")
        }
    }
}
