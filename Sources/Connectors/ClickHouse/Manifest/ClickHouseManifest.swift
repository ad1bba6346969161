import Flow
import Manifest

/// The manifest side of the clickhouse connector.
extension ClickHouseDescriptor {
    public var address: EndpointAddress { .table }
    public var urlScheme: String? { "clickhouse" }
    /// `final: true` reads a ReplacingMergeTree table with FINAL (kept in `options.extra`).
    public var sourceOptionKeys: [String]? { ["final"] }
    public var sinkOptionKeys: [String]? { ["schema_evolution"] }
    /// Every mode (backfill publishes each chunk with one of the others: `BackfillRunner`).
    public var supportedModes: [LoadMode] { LoadMode.allCases }
    /// Only cdc_apply keeps delete markers (`__dpone__is_deleted`); incremental_merge has no way to
    /// remove a key in ReplacingMergeTree.
    public func appliesDeletes(_ strategy: StrategyConfig) -> Bool { strategy.mode == .cdcApply }
    public var mergePolicies: [MergePolicy] { [.replacingMergeTree, .mutationDeleteInsert, .shadowSwap] }

    public func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {
        if let r = options["final"], let value = options.ctx.value(r) { source.options.extra["final"] = value }
    }
}
