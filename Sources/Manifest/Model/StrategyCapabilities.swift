import Flow

/// The one table of which load modes each sink type supports.
public enum StrategyCapabilities {
    /// Supported modes per sink type, in `LoadMode.allCases` order. REST is not a sink: no modes.
    public static func supportedModes(for sink: EndpointType) -> [LoadMode] {
        switch sink {
        case .files: [.fullRefresh, .incrementalAppend]
        case .postgres, .clickhouse, .mssql: LoadMode.allCases
        // Kafka events: snapshot, inserts, upserts and tombstones. A predicate window, a partition,
        // history rows or backfill chunks cannot be replaced in a topic.
        case .kafka: [.fullRefresh, .incrementalAppend, .incrementalMerge, .snapshotDiff, .cdcApply]
        case .rest: []
        }
    }

    /// The `incremental_merge` policies of a sink type, its default first.
    public static func mergePolicies(for sink: EndpointType) -> [MergePolicy] {
        switch sink {
        case .postgres, .mssql: [.deleteInsert, .upsert]
        case .clickhouse: [.replacingMergeTree, .mutationDeleteInsert, .shadowSwap]
        case .files, .kafka, .rest: []
        }
    }

    /// The policy a manifest's `merge_policy` (nil: not given) means for a sink type.
    public static func mergePolicy(_ given: MergePolicy?, for sink: EndpointType) -> MergePolicy? {
        given ?? mergePolicies(for: sink).first
    }

    public static func supports(_ sink: EndpointType, _ mode: LoadMode) -> Bool {
        supportedModes(for: sink).contains(mode)
    }
}
