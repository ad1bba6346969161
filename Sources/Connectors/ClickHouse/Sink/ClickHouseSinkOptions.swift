import Flow
import Foundation

/// How a `ClickHouseSink` publishes each checkpoint (see `ClickHouseSink` for the SQL of each).
public enum ClickHouseLoadMode: Sendable, Equatable {
    /// Replace the whole target with the staged rows (EXCHANGE TABLES, or a RENAME swap on old servers).
    case fullRefresh
    /// Insert the staged rows; with `onlyNewRows`, only keys not yet in the target.
    case incrementalAppend(onlyNewRows: Bool)
    /// Upsert by key; `policy` says how (see `ClickHouseMergePolicy`).
    case incrementalMerge(policy: ClickHouseMergePolicy)
    /// Replace exactly the partitions (values of `column`) present in staging.
    case partitionReplace(column: String, maxPartitions: Int)
    /// Replace the rows matching `predicate` (a ClickHouse boolean expression) by the staged rows,
    /// which must all match it.
    case replace(predicate: String)
    /// Make the target equal to the staged snapshot by key: new keys inserted, rows whose
    /// `__dpone__row_hash` changed rewritten, missing keys handled by `deletePolicy`.
    case snapshotDiff(deletePolicy: ClickHouseDiffDeletePolicy)
    /// Keep history by key: a changed row closes the current version (`__dpone__valid_to_at`,
    /// `__dpone__is_current = 0`) and adds a new one; missing keys handled by `deletePolicy`.
    case scd2(deletePolicy: ClickHouseHistoryDeletePolicy)
    /// Apply change events (PostgreSQL CDC: `__dpone__lsn`, `__dpone__unchanged`, the batch's row
    /// operations) by key into `ReplacingMergeTree(__dpone__version)` with version = lsn and
    /// `__dpone__is_deleted`; see `ClickHouseCDCApplySQL`.
    case cdcApply

    /// `incremental_merge` with the default policy (`replacing_merge_tree`).
    public static var incrementalMerge: ClickHouseLoadMode { .incrementalMerge(policy: .replacingMergeTree) }
    /// `snapshot_diff` with the default delete policy (`hard_delete`).
    public static var snapshotDiff: ClickHouseLoadMode { .snapshotDiff(deletePolicy: .hardDelete) }
    /// `scd2` with the default delete policy (`expire`).
    public static var scd2: ClickHouseLoadMode { .scd2(deletePolicy: .expire) }

    /// The manifest's name of the mode.
    public var name: String {
        switch self {
        case .fullRefresh: "full_refresh"
        case .incrementalAppend: "incremental_append"
        case .incrementalMerge: "incremental_merge"
        case .partitionReplace: "partition_replace"
        case .replace: "replace"
        case .snapshotDiff: "snapshot_diff"
        case .scd2: "scd2"
        case .cdcApply: "cdc_apply"
        }
    }

    /// Whether the target is `ReplacingMergeTree(__dpone__version)`.
    public var isReplacing: Bool { self == .incrementalMerge(policy: .replacingMergeTree) || self == .cdcApply }

    /// Whether the mode treats target keys missing from staging as deleted (`snapshot_diff` with
    /// `hard_delete` or `soft_delete`, `scd2` with `expire`): sound only on a complete checkpoint.
    public var detectsDeletes: Bool {
        switch self {
        case .snapshotDiff(.hardDelete), .snapshotDiff(.softDelete), .scd2(.expire): true
        default: false
        }
    }

    /// Whether the mode matches rows by the unique key (staged keys must then be non-NULL and unique;
    /// cdc_apply stages several events per key, so only non-NULL).
    public var matchesByKey: Bool {
        switch self {
        case .incrementalAppend(let onlyNew): onlyNew
        case .incrementalMerge, .snapshotDiff, .scd2: true
        default: false
        }
    }
}

/// How `incremental_merge` publishes a checkpoint's staged rows.
public enum ClickHouseMergePolicy: String, Sendable, Equatable, CaseIterable {
    /// Insert into `ReplacingMergeTree(__dpone__version)` (version = checkpoint). Cheapest; readers
    /// deduplicate with `FINAL` or `argMax(col, __dpone__version) ... GROUP BY key` until merges run.
    case replacingMergeTree = "replacing_merge_tree"
    /// Delete the staged keys from a plain `MergeTree` (lightweight DELETE, or an awaited mutation on
    /// old servers), then insert. A plain `SELECT` is exact after the load; each load rewrites the
    /// parts holding the keys (mutations are heavy on big tables).
    case mutationDeleteInsert = "mutation_delete_insert"
    /// Copy the target rows whose key is not staged plus the staged rows into a new table and swap
    /// it in (EXCHANGE TABLES, or RENAME). Exact and mutation-free; costs a full table rewrite.
    case shadowSwap = "shadow_swap"
}

/// What `snapshot_diff` does with target keys missing from the snapshot.
public enum ClickHouseDiffDeletePolicy: String, Sendable, Equatable, CaseIterable {
    /// Delete the rows.
    case hardDelete = "hard_delete"
    /// Set `__dpone__deleted_at` (a key that comes back is live again).
    case softDelete = "soft_delete"
    /// Keep the rows as they are.
    case ignore
}

/// What `scd2` does with current keys missing from the snapshot.
public enum ClickHouseHistoryDeletePolicy: String, Sendable, Equatable, CaseIterable {
    /// Close their current version.
    case expire
    /// Keep their current version current.
    case ignore
}

/// Where and how a `ClickHouseSink` publishes.
public struct ClickHouseSinkOptions: Sendable {
    /// The server's HTTP URL (credentials in it are sent as headers, never logged).
    public var url: String
    public var target: ClickHouseTableName
    public var mode: ClickHouseLoadMode
    public var uniqueKey: [String]
    /// Names the attempt-local tables (`__dpone__stg_<load id>_<table>`); random when nil.
    public var loadID: String?
    /// The idempotency ledger: one row per published (pipeline, target, checkpoint).
    /// Default `<target database>.__dpone__loads`.
    public var ledger: ClickHouseTableName
    /// How long to wait for an `ALTER TABLE ... DELETE` mutation on servers without `mutations_sync`.
    public var mutationTimeoutSeconds: Double

    public init(
        url: String, target: ClickHouseTableName, mode: ClickHouseLoadMode, uniqueKey: [String] = [],
        loadID: String? = nil, ledger: ClickHouseTableName? = nil, mutationTimeoutSeconds: Double = 600
    ) {
        self.url = url
        self.target = target
        self.mode = mode
        self.uniqueKey = uniqueKey
        self.loadID = loadID
        self.ledger = ledger ?? ClickHouseTableName(database: target.database, name: "__dpone__loads")
        self.mutationTimeoutSeconds = mutationTimeoutSeconds
    }

    /// Throws `DponeError(.usage)` for a mode this build does not publish to ClickHouse, and
    /// `DponeError(.schema)` for options the incoming schema cannot satisfy. Pure.
    func validate(against schema: Schema) throws {
        switch mode {
        case .replace(let predicate):
            if predicate.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw DponeError(
                    .usage, "mode replace needs a custom_predicate (the window of the target it replaces)",
                    context: ["table": target.description])
            }
        case .snapshotDiff, .scd2:
            if uniqueKey.isEmpty {
                throw DponeError(.usage, "mode \(mode.name) needs a unique_key", context: ["table": target.description])
            }
            if schema.index(of: TechnicalColumns.rowHash) == nil {
                throw DponeError(
                    .schema,
                    "mode \(mode.name) needs the staged column \(TechnicalColumns.rowHash) (the row hash the pipeline adds), which the incoming schema lacks",
                    hint: "run the load through the dpone pipeline, which adds the row hash for this mode",
                    context: ["table": target.description])
            }
            if uniqueKey.contains(TechnicalColumns.rowHash) {
                throw DponeError(.usage, "the unique_key cannot include \(TechnicalColumns.rowHash)", context: ["table": target.description])
            }
        case .cdcApply:
            if uniqueKey.isEmpty {
                throw DponeError(.usage, "mode cdc_apply needs a unique_key (changes are applied by key)", context: ["table": target.description])
            }
            for column in [TechnicalColumns.lsn, TechnicalColumns.unchanged] where schema.index(of: column) == nil {
                throw DponeError(
                    .schema, "mode cdc_apply needs the change column \(column), which the incoming schema lacks",
                    hint: "cdc_apply applies the changes of a postgres source with options.cdc (dpone stream)",
                    context: ["table": target.description])
            }
        case .incrementalMerge, .incrementalAppend(onlyNewRows: true):
            if uniqueKey.isEmpty {
                throw DponeError(.usage, "mode \(mode.name) needs a unique_key", context: ["table": target.description])
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
        for key in uniqueKey where schema.index(of: key) == nil {
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
