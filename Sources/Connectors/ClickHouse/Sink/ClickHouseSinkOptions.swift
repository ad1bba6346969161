import ConnectorKit
import Flow
import Foundation

extension LoadStrategy {
    /// The `incremental_merge` policies the ClickHouse sink publishes by:
    /// - `replacing_merge_tree` (default): insert into `ReplacingMergeTree(__dpone__version)` (version =
    ///   checkpoint). Cheapest; readers deduplicate with `FINAL` or `argMax(col, __dpone__version) ...
    ///   GROUP BY key` until merges run.
    /// - `mutation_delete_insert`: delete the staged keys from a plain `MergeTree` (lightweight
    ///   DELETE, or an awaited mutation on old servers), then insert. A plain `SELECT` is exact after
    ///   the load; each load rewrites the parts holding the keys.
    /// - `shadow_swap`: copy the target rows whose key is not staged plus the staged rows into a new
    ///   table and swap it in (EXCHANGE TABLES, or RENAME). Exact and mutation-free; costs a rewrite.
    public static let clickHouseMergePolicies: [MergePolicy] = [.replacingMergeTree, .mutationDeleteInsert, .shadowSwap]

    /// Whether the ClickHouse target is `ReplacingMergeTree(__dpone__version)`.
    public var isReplacing: Bool { self == .incrementalMerge(.replacingMergeTree) || self == .cdcApply }
}

/// Where and how a `ClickHouseSink` publishes (the fields every staged-table sink has are in
/// `staged`, read as this type's own; the URL's credentials are sent as headers, never logged).
@dynamicMemberLookup
public struct ClickHouseSinkOptions: Sendable {
    public var staged: StagedTargetOptions
    public var target: ClickHouseTableName
    /// The idempotency ledger: one row per published (pipeline, target, checkpoint).
    /// Default `<target database>.__dpone__loads`.
    public var ledger: ClickHouseTableName
    /// How long to wait for an `ALTER TABLE ... DELETE` mutation on servers without `mutations_sync`.
    public var mutationTimeoutSeconds: Double
    /// Drop this target's `__dpone__stg_/pub_/old_` tables when the sink opens (leftovers of a
    /// killed run). Off when other pipelines load the target at the same time (`SinkRequest.targetShared`):
    /// their tables are in use.
    public var dropsLeftovers = true

    public init(
        url: String, target: ClickHouseTableName, mode: LoadStrategy, uniqueKey: [String] = [],
        loadID: String? = nil, ledger: ClickHouseTableName? = nil, mutationTimeoutSeconds: Double = 600
    ) {
        self.staged = StagedTargetOptions(url: url, mode: mode, uniqueKey: uniqueKey, loadID: loadID)
        self.target = target
        self.ledger = ledger ?? ClickHouseTableName(database: target.database, name: "__dpone__loads")
        self.mutationTimeoutSeconds = mutationTimeoutSeconds
    }

    /// Throws `DponeError(.usage)` for a mode this build does not publish to ClickHouse, and
    /// `DponeError(.schema)` for options the incoming schema cannot satisfy. Pure.
    func validate(against schema: Schema) throws {
        switch self.mode {
        case .incrementalMerge(let policy) where !LoadStrategy.clickHouseMergePolicies.contains(policy):
            throw DponeError(
                .usage, "merge_policy '\(policy.rawValue)' is not a clickhouse policy",
                hint: "use " + LoadStrategy.clickHouseMergePolicies.map(\.rawValue).joined(separator: ", "),
                context: ["table": target.description])
        case .replace(let predicate):
            if predicate.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw DponeError(
                    .usage, "mode replace needs a custom_predicate (the window of the target it replaces)",
                    context: ["table": target.description])
            }
        case .snapshotDiff, .scd2:
            if self.uniqueKey.isEmpty {
                throw DponeError(.usage, "mode \(self.mode.name) needs a unique_key", context: ["table": target.description])
            }
            if schema.index(of: TechnicalColumns.rowHash) == nil {
                throw DponeError(
                    .schema,
                    "mode \(self.mode.name) needs the staged column \(TechnicalColumns.rowHash) (the row hash the pipeline adds), which the incoming schema lacks",
                    hint: "run the load through the dpone pipeline, which adds the row hash for this mode",
                    context: ["table": target.description])
            }
            if self.uniqueKey.contains(TechnicalColumns.rowHash) {
                throw DponeError(.usage, "the unique_key cannot include \(TechnicalColumns.rowHash)", context: ["table": target.description])
            }
        case .cdcApply:
            if self.uniqueKey.isEmpty {
                throw DponeError(.usage, "mode cdc_apply needs a unique_key (changes are applied by key)", context: ["table": target.description])
            }
            for column in [TechnicalColumns.lsn, TechnicalColumns.unchanged] where schema.index(of: column) == nil {
                throw DponeError(
                    .schema, "mode cdc_apply needs the change column \(column), which the incoming schema lacks",
                    hint: "cdc_apply applies the changes of a postgres source with options.cdc (dpone stream)",
                    context: ["table": target.description])
            }
        case .incrementalMerge, .incrementalAppend(onlyNewRows: true):
            if self.uniqueKey.isEmpty {
                throw DponeError(.usage, "mode \(self.mode.name) needs a unique_key", context: ["table": target.description])
            }
        case .partitionReplace(let column, _):
            if schema.index(of: column) == nil {
                throw DponeError(
                    .schema, "partition column \(column) is not among the source columns (\(schema.names.joined(separator: ", ")))",
                    context: ["table": target.description])
            }
        default:
            break
        }
        for key in self.uniqueKey where schema.index(of: key) == nil {
            throw DponeError(
                .schema, "unique_key column \(key) is not among the source columns (\(schema.names.joined(separator: ", ")))",
                context: ["table": target.description])
        }
        let reserved: Set<String> = [
            TechnicalColumns.version, TechnicalColumns.deletedAt, TechnicalColumns.validFrom,
            TechnicalColumns.validTo, TechnicalColumns.isCurrent, TechnicalColumns.isDeleted,
            TechnicalColumns.operation, TechnicalColumns.sequence,
        ]
        for field in schema.fields where field.name.hasPrefix("__dpone__checkpoint") || reserved.contains(field.name) {
            throw DponeError(.schema, "source column \(field.name) collides with a dpone technical column", context: ["table": target.description])
        }
    }
}

extension ClickHouseSinkOptions {
    public subscript<T>(dynamicMember field: WritableKeyPath<StagedTargetOptions, T>) -> T {
        get { staged[keyPath: field] }
        set { staged[keyPath: field] = newValue }
    }
}
