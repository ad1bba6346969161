import Flow

/// The SQL the ClickHouse sink runs for one checkpoint, as data: pure functions of the plan, one
/// statement each (ClickHouse's HTTP interface takes one statement per request). `--dry-run` can show
/// them verbatim; `ClickHouseSink` decides which run (replay cleanup, swap flavour) from the server.
public struct ClickHousePublishPlan: Sendable {
    public var target: ClickHouseTableName
    /// The staged rows (business columns only, target types, key columns Nullable when the source is).
    public var staging: ClickHouseTableName
    /// A copy of the target's structure the staged rows are tagged into (full_refresh, partition_replace).
    public var publish: ClickHouseTableName
    /// The table a RENAME swap moves the previous target to (servers without EXCHANGE TABLES).
    public var displaced: ClickHouseTableName
    public var columns: [String]
    public var uniqueKey: [String]
    public var mode: LoadStrategy
    /// Technical columns the target has (`__dpone__checkpoint`, and `__dpone__version` for merge).
    public var technicalColumns: [String]
    /// Staged columns that may hold NULL and must not (keys, the partition column).
    public var nullableRequiredColumns: [String]
    /// Deletes as lightweight `DELETE FROM t WHERE ...` (rows masked at once, every later statement
    /// skips them) instead of an `ALTER TABLE t DELETE WHERE ...` mutation (servers before 22.8).
    public var lightweightDelete: Bool = false
    /// The staged rows are a complete copy of the source (`CheckpointContext.isComplete`). When
    /// false, `snapshot_diff` and `scd2` apply what was staged but delete, soft-delete or expire no
    /// key missing from it: on a partial checkpoint that key only did not change.
    public var complete: Bool = true

    var t: String { target.sql }
    var s: String { staging.sql }

    /// `INSERT INTO into (cols, technical...) SELECT cols, N... FROM staging [WHERE ...]`.
    public func tagInsert(into table: ClickHouseTableName, checkpoint: UInt64, filter: String? = nil) -> String {
        let cols = ClickHouseSQL.list(columns)
        let tech = technicalColumns.isEmpty ? "" : ", " + ClickHouseSQL.list(technicalColumns)
        let values = technicalColumns.isEmpty ? "" : ", " + technicalColumns.map { _ in String(checkpoint) }.joined(separator: ", ")
        return "INSERT INTO \(table.sql) (\(cols)\(tech)) SELECT \(cols)\(values) FROM \(s)" + (filter.map { " WHERE \($0)" } ?? "")
    }

    /// Checks on staging before the target is touched; each returns one count that must be 0.
    public func checks() -> [(what: String, sql: String)] {
        var checks: [(String, String)] = []
        if !nullableRequiredColumns.isEmpty {
            let nulls = nullableRequiredColumns.map { "isNull(\(ClickHouseSQL.quoteIdentifier($0)))" }.joined(separator: " OR ")
            checks.append(("rows with a NULL in \(nullableRequiredColumns.joined(separator: ", "))", "SELECT count() FROM \(s) WHERE \(nulls)"))
        }
        if case .partitionReplace(let column, let max) = mode {
            checks.append((
                "partitions more than max_partitions_per_run (\(max))",
                "SELECT greatest(toInt64(uniqExact(\(ClickHouseSQL.quoteIdentifier(column)))) - \(max), 0) FROM \(s)"
            ))
        }
        if case .replace(let predicate) = mode {
            // A staged row outside the window would survive the next replace of the same window as a
            // duplicate: the window must cover every staged row (NULL counts as outside).
            checks.append(("rows outside the replace window (\(predicate))", replaceOutsideWindow(predicate)))
        }
        if mode.refusesDuplicateKeys && !uniqueKey.isEmpty {
            checks.append((
                "duplicate unique keys (\(uniqueKey.joined(separator: ", ")))",
                "SELECT count() FROM (SELECT 1 FROM \(s) GROUP BY \(ClickHouseSQL.list(uniqueKey)) HAVING count() > 1)"
            ))
        }
        return checks
    }

    /// Rows of the target a previous attempt of `checkpoint` left (append replay cleanup).
    public func countTagged(_ checkpoint: UInt64, in table: ClickHouseTableName? = nil) -> String {
        "SELECT count() FROM \((table ?? target).sql) WHERE \(ClickHouseSQL.quoteIdentifier(TechnicalColumns.checkpoint)) = \(checkpoint)"
    }

    /// Deletes the target rows `predicate` holds for: `DELETE FROM` with `lightweightDelete`, else an
    /// `ALTER TABLE ... DELETE` mutation (asynchronous on old servers: the sink awaits it).
    public func delete(where predicate: String) -> String {
        lightweightDelete ? "DELETE FROM \(t) WHERE \(predicate)" : "ALTER TABLE \(t) DELETE WHERE \(predicate)"
    }

    /// Deletes the rows a previous attempt of `checkpoint` left.
    public func deleteTagged(_ checkpoint: UInt64) -> String {
        delete(where: "\(ClickHouseSQL.quoteIdentifier(TechnicalColumns.checkpoint)) = \(checkpoint)")
    }

    /// Unfinished mutations of the target (servers without `mutations_sync`).
    public func pendingMutations() -> String {
        "SELECT count() FROM system.mutations WHERE database = \(ClickHouseSQL.quoteLiteral(target.database)) AND table = \(ClickHouseSQL.quoteLiteral(target.name)) AND is_done = 0"
    }

    /// `incremental_append`: the insert (only keys the target lacks with `onlyNewRows`).
    public func appendInsert(_ checkpoint: UInt64) -> String {
        guard case .incrementalAppend(true) = mode else { return tagInsert(into: target, checkpoint: checkpoint) }
        let key = ClickHouseSQL.keyTuple(uniqueKey)
        return tagInsert(into: target, checkpoint: checkpoint, filter: "\(key) NOT IN (SELECT \(ClickHouseSQL.list(uniqueKey)) FROM \(t))")
    }

    /// `incremental_merge`: staged keys published by an earlier checkpoint (the rows this one updates).
    public func mergeUpdatedCount(_ checkpoint: UInt64) -> String {
        let key = ClickHouseSQL.keyTuple(uniqueKey)
        return "SELECT count() FROM \(s) WHERE \(key) IN (SELECT \(ClickHouseSQL.list(uniqueKey)) FROM \(t) WHERE \(ClickHouseSQL.quoteIdentifier(TechnicalColumns.checkpoint)) < \(checkpoint))"
    }

    /// `incremental_merge` / `mutation_delete_insert`: removes every target row of a staged key.
    public func mergeDelete() -> String {
        delete(where: "\(ClickHouseSQL.keyTuple(uniqueKey)) IN (SELECT \(ClickHouseSQL.list(uniqueKey)) FROM \(s))")
    }

    /// `incremental_merge` / `shadow_swap`: copies the target rows whose key is not staged (technical
    /// columns kept) into the publish table; the staged rows follow with `tagInsert`.
    public func shadowCopyUnmerged() -> String {
        let cols = ClickHouseSQL.list(columns + technicalColumns)
        return "INSERT INTO \(publish.sql) (\(cols)) SELECT \(cols) FROM \(t) WHERE \(ClickHouseSQL.keyTuple(uniqueKey)) NOT IN (SELECT \(ClickHouseSQL.list(uniqueKey)) FROM \(s))"
    }

    public func count(_ table: ClickHouseTableName) -> String { "SELECT count() FROM \(table.sql)" }

    /// A fresh empty table with the target's structure and engine.
    public func createLikeTarget(_ table: ClickHouseTableName) -> [String] {
        ["DROP TABLE IF EXISTS \(table.sql)", "CREATE TABLE \(table.sql) AS \(t)"]
    }

    /// The swap of `full_refresh`: EXCHANGE where supported, else a two-table RENAME.
    public func swap(exchange: Bool) -> [String] {
        if exchange { return ["EXCHANGE TABLES \(t) AND \(publish.sql)", "DROP TABLE IF EXISTS \(publish.sql)"] }
        return [
            "DROP TABLE IF EXISTS \(displaced.sql)",
            "RENAME TABLE \(t) TO \(displaced.sql), \(publish.sql) TO \(t)",
            "DROP TABLE IF EXISTS \(displaced.sql)",
        ]
    }

    /// Partition ids of the active parts of `table`.
    public func partitionIDs(of table: ClickHouseTableName) -> String {
        "SELECT DISTINCT partition_id FROM system.parts WHERE database = \(ClickHouseSQL.quoteLiteral(table.database)) AND table = \(ClickHouseSQL.quoteLiteral(table.name)) AND active ORDER BY partition_id"
    }

    /// Rows of the target in the partitions `ids` (what a replace removes).
    public func rowsInPartitions(_ ids: [String]) -> String {
        "SELECT sum(rows) FROM system.parts WHERE database = \(ClickHouseSQL.quoteLiteral(target.database)) AND table = \(ClickHouseSQL.quoteLiteral(target.name)) AND active AND partition_id IN (\(ids.map(ClickHouseSQL.quoteLiteral).joined(separator: ", ")))"
    }

    /// Replaces one partition of the target by the publish table's (idempotent).
    public func replacePartition(_ id: String) -> String {
        "ALTER TABLE \(t) REPLACE PARTITION ID \(ClickHouseSQL.quoteLiteral(id)) FROM \(publish.sql)"
    }

    // MARK: replace

    /// `replace`: staged rows the predicate does not hold for (NULL included); must be 0.
    public func replaceOutsideWindow(_ predicate: String) -> String {
        "SELECT count() FROM \(s) WHERE ifNull((\(predicate)), 0) = 0"
    }

    /// `replace`: the target rows of the window (what the delete removes).
    public func replaceWindowCount(_ predicate: String) -> String {
        "SELECT count() FROM \(t) WHERE \(predicate)"
    }

    /// `replace`: deletes the window (repeating it deletes nothing more).
    public func replaceDelete(_ predicate: String) -> String {
        delete(where: predicate)
    }

    // MARK: snapshot_diff and scd2 (set-based: applying a statement twice changes nothing more)

    var keyTuple: String { ClickHouseSQL.keyTuple(uniqueKey) }
    var keyList: String { ClickHouseSQL.list(uniqueKey) }
    var keyHashTuple: String { "(\(ClickHouseSQL.list(uniqueKey + [TechnicalColumns.rowHash])))" }
    var keyHashList: String { ClickHouseSQL.list(uniqueKey + [TechnicalColumns.rowHash]) }
    var stagedKeys: String { "SELECT \(keyList) FROM \(s)" }
    var stagedKeyHashes: String { "SELECT \(keyHashList) FROM \(s)" }
    var deletedAt: String { ClickHouseSQL.quoteIdentifier(TechnicalColumns.deletedAt) }
    var isCurrent: String { ClickHouseSQL.quoteIdentifier(TechnicalColumns.isCurrent) }
    var validTo: String { ClickHouseSQL.quoteIdentifier(TechnicalColumns.validTo) }

    /// The live rows a staged row is compared with: every target row for `snapshot_diff`, the
    /// current versions for `scd2`.
    var liveFilter: String {
        if case .scd2 = mode { return " WHERE \(isCurrent) = 1" }
        return ""
    }

    /// Counts, before any mutation, as the PostgreSQL sink reports them: `(inserted, updated, deleted)`
    /// where inserted are new keys, updated the rows that replace a previous version (a changed hash,
    /// or a soft-deleted key that comes back) and deleted the rows the delete policy removes/closes.
    public func diffCounts() -> String {
        let live = "SELECT \(keyList) FROM \(t)\(liveFilter)"
        let liveHashes = "SELECT \(keyHashList) FROM \(t)\(liveFilter)"
        var changed = "\(keyHashTuple) NOT IN (\(liveHashes))"
        var deleted = "0"
        switch mode {
        case .snapshotDiff(.softDelete):
            changed = "(\(changed) OR \(keyTuple) IN (SELECT \(keyList) FROM \(t) WHERE isNotNull(\(deletedAt))))"
            if complete {
                deleted = "(SELECT count() FROM \(t) WHERE isNull(\(deletedAt)) AND \(keyTuple) NOT IN (\(stagedKeys)))"
            }
        case .snapshotDiff(.hardDelete), .scd2(.expire):
            guard complete else { break }
            deleted = "(SELECT count() FROM \(t)\(liveFilter)\(liveFilter.isEmpty ? " WHERE" : " AND") \(keyTuple) NOT IN (\(stagedKeys)))"
        default:
            break
        }
        return """
            SELECT (SELECT count() FROM \(s) WHERE \(keyTuple) NOT IN (\(live))), \
            (SELECT count() FROM \(s) WHERE \(keyTuple) IN (\(live)) AND \(changed)), \(deleted)
            """
    }

    /// The mutations that run before the insert, in order (`ts`: the load timestamp as SQL).
    /// - snapshot_diff hard_delete: one DELETE of every row whose (key, hash) is not staged (changed and missing).
    /// - snapshot_diff soft_delete: DELETE of changed and soft-deleted staged keys (they are re-inserted
    ///   live), then UPDATE `__dpone__deleted_at` of live rows whose key is not staged.
    /// - snapshot_diff ignore: DELETE of changed staged keys.
    /// - scd2 expire: UPDATE closing every current version whose (key, hash) is not staged (changed and missing).
    /// - scd2 ignore: UPDATE closing current versions of staged keys whose hash changed.
    ///
    /// A partial checkpoint (`complete` false) runs each policy's statements without the part for
    /// missing keys: hard_delete and expire as ignore, soft_delete without its UPDATE.
    public func diffMutations(ts: String) -> [String] {
        let notStaged = "\(keyHashTuple) NOT IN (\(stagedKeyHashes))"
        let stagedKey = "\(keyTuple) IN (\(stagedKeys))"
        let close = "ALTER TABLE \(t) UPDATE \(validTo) = \(ts), \(isCurrent) = 0 WHERE \(isCurrent) = 1 AND"
        switch mode {
        case .snapshotDiff(.hardDelete) where complete:
            return [delete(where: notStaged)]
        case .snapshotDiff(.softDelete):
            let revive = delete(where: "\(stagedKey) AND (\(notStaged) OR isNotNull(\(deletedAt)))")
            guard complete else { return [revive] }
            return [
                revive,
                "ALTER TABLE \(t) UPDATE \(deletedAt) = \(ts) WHERE isNull(\(deletedAt)) AND \(keyTuple) NOT IN (\(stagedKeys))",
            ]
        case .snapshotDiff(.ignore), .snapshotDiff(.hardDelete):
            return [delete(where: "\(stagedKey) AND \(notStaged)")]
        case .scd2(.expire) where complete:
            return ["\(close) \(notStaged)"]
        case .scd2(.ignore), .scd2(.expire):
            return ["\(close) \(stagedKey) AND \(notStaged)"]
        default:
            return []
        }
    }

    /// The insert after the mutations: staged rows with no live row of the same (key, hash), tagged
    /// with the checkpoint (and, for scd2, current from `ts`). Repeating it inserts nothing more.
    public func diffInsert(_ checkpoint: UInt64, ts: String) -> String {
        let filter = "\(keyHashTuple) NOT IN (SELECT \(keyHashList) FROM \(t)\(liveFilter))"
        guard case .scd2 = mode else { return tagInsert(into: target, checkpoint: checkpoint, filter: filter) }
        let cols = ClickHouseSQL.list(columns)
        let validFrom = ClickHouseSQL.quoteIdentifier(TechnicalColumns.validFrom)
        let checkpointColumn = ClickHouseSQL.quoteIdentifier(TechnicalColumns.checkpoint)
        return "INSERT INTO \(t) (\(cols), \(checkpointColumn), \(validFrom), \(isCurrent)) SELECT \(cols), \(checkpoint), \(ts), 1 FROM \(s) WHERE \(filter)"
    }
}
