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
    }
}
