import ConnectorKit
import Flow

/// Renders the set-based SQL of every Postgres load strategy. Pure: no connection, no I/O.
public enum FinalizerSQL {
    static func q(_ name: String) -> String { PostgresSQL.quoteIdentifier(name) }

    static func list(_ names: [String], prefix: String? = nil) -> String { SQLLists.list(names, quote: q, prefix: prefix) }

    /// `t.k1 = s.k1 AND t.k2 = s.k2`.
    static func keyMatch(_ keys: [String], _ a: String = "t", _ b: String = "s") -> String { SQLLists.keyMatch(keys, quote: q, a, b) }

    /// Wraps a data-modifying statement so it returns the number of rows it touched.
    static func counted(_ statement: String) -> String {
        "WITH affected AS (\(statement) RETURNING 1) SELECT count(*) FROM affected"
    }

    /// Checks run on staging before the target is touched; each returns one count that must be 0.
    public static func keyChecks(_ plan: LoadPlan) -> [(what: String, sql: String)] {
        let s = plan.staging.sql
        return StagingCheck.required(for: plan.mode, uniqueKey: plan.uniqueKey).map { check in
            switch check {
            case .partitionsOverLimit(let column, let max):
                (check.what, "SELECT greatest(count(*) - \(max), 0) FROM (SELECT DISTINCT \(q(column)) FROM \(s)) AS partitions")
            case .rowsOutsideWindow(let predicate):
                (check.what, "SELECT count(*) FROM \(s) WHERE (\(predicate)) IS NOT TRUE")
            case .nullKeys(let key):
                (check.what, "SELECT count(*) FROM \(s) WHERE " + key.map { "\(q($0)) IS NULL" }.joined(separator: " OR "))
            case .duplicateKeys(let key):
                (check.what, "SELECT count(*) FROM (SELECT 1 FROM \(s) GROUP BY \(list(key)) HAVING count(*) > 1) AS duplicates")
            }
        }
    }

    /// The statements that publish the staged rows, in order.
    public static func steps(_ plan: LoadPlan) -> [FinalizerStep] {
        let t = plan.target.sql
        let s = plan.staging.sql
        let cols = list(plan.columns)
        let scols = list(plan.columns, prefix: "s")
        let insertAll = "INSERT INTO \(t) (\(cols)) SELECT \(scols) FROM \(s) AS s"
        let key = plan.uniqueKey
        let ts = plan.loadTimestampSQL

        switch plan.mode {
        case .cdcApply:
            return cdcApplySteps(plan)
        case .fullRefresh(.truncateInsert):
            return [
                FinalizerStep("SELECT count(*) FROM \(t)", counts: .previousRows),
                FinalizerStep("TRUNCATE TABLE \(t)"),
                FinalizerStep(counted(insertAll), counts: .inserted),
            ]
        case .fullRefresh(.exchange):
            let fresh = plan.target.sibling("new")
            let old = plan.target.sibling("old")
            return [
                FinalizerStep("SELECT count(*) FROM \(t)", counts: .previousRows),
                FinalizerStep("DROP TABLE IF EXISTS \(fresh.sql)"),
                FinalizerStep("CREATE TABLE \(fresh.sql) (LIKE \(t) INCLUDING ALL)"),
                FinalizerStep(
                    counted("INSERT INTO \(fresh.sql) (\(cols)) SELECT \(scols) FROM \(s) AS s"), counts: .inserted),
                FinalizerStep("ALTER TABLE \(t) RENAME TO \(q(old.name))"),
                FinalizerStep("ALTER TABLE \(fresh.sql) RENAME TO \(q(plan.target.name))"),
                FinalizerStep("DROP TABLE \(old.sql)"),
            ]
        case .incrementalAppend(onlyNewRows: false):
            return [FinalizerStep(counted(insertAll), counts: .inserted)]
        case .incrementalAppend(onlyNewRows: true):
            return [
                FinalizerStep(
                    counted("\(insertAll) WHERE NOT EXISTS (SELECT 1 FROM \(t) AS t WHERE \(keyMatch(key)))"),
                    counts: .inserted)
            ]
        case .incrementalMerge(let policy) where plan.stagesOperations:
            return mergeWithDeletes(plan, policy: policy)
        case .incrementalMerge(.upsert):
            let updates = plan.columns.filter { !key.contains($0) }
            let action =
                updates.isEmpty
                ? "DO NOTHING"
                : "DO UPDATE SET " + updates.map { "\(q($0)) = EXCLUDED.\(q($0))" }.joined(separator: ", ")
            return [
                FinalizerStep(
                    "WITH upserted AS (\(insertAll) ON CONFLICT (\(list(key))) \(action) RETURNING (xmax = 0) AS inserted) "
                        + "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted",
                    counts: .insertedAndUpdated)
            ]
        case .incrementalMerge:
            // delete_insert (ClickHouse-only policies are refused when the sink opens).
            return [
                FinalizerStep(counted("DELETE FROM \(t) AS t USING \(s) AS s WHERE \(keyMatch(key))"), counts: .updated),
                FinalizerStep(counted(insertAll), counts: .inserted),
            ]
        case .replace(let predicate):
            return [
                FinalizerStep(counted("DELETE FROM \(t) WHERE (\(predicate))"), counts: .deleted),
                FinalizerStep(counted(insertAll), counts: .inserted),
            ]
        case .snapshotDiff(let policy):
            let hash = q(TechnicalColumns.rowHash)
            let deletedAt = q(TechnicalColumns.deletedAt)
            let revived = policy == .softDelete ? " OR t.\(deletedAt) IS NOT NULL" : ""
            var steps = [
                // Changed rows (and, with soft deletes, rows that come back) are rewritten.
                FinalizerStep(
                    counted(
                        "DELETE FROM \(t) AS t USING \(s) AS s WHERE \(keyMatch(key)) AND (t.\(hash) IS DISTINCT FROM s.\(hash)\(revived))"
                    ), counts: .updated),
                FinalizerStep(
                    counted("\(insertAll) WHERE NOT EXISTS (SELECT 1 FROM \(t) AS t WHERE \(keyMatch(key)))"),
                    counts: .inserted),
            ]
            let missing = "NOT EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)))"
            guard plan.complete else { return steps }
            switch policy {
            case .hardDelete:
                steps.append(FinalizerStep(counted("DELETE FROM \(t) AS t WHERE \(missing)"), counts: .deleted))
            case .softDelete:
                steps.append(
                    FinalizerStep(
                        counted("UPDATE \(t) AS t SET \(deletedAt) = \(ts) WHERE t.\(deletedAt) IS NULL AND \(missing)"),
                        counts: .deleted))
            case .ignore:
                break
            }
            return steps
        case .partitionReplace(let column, _):
            let c = q(column)
            // NULL is a partition value too: IN never matches it, so it is handled on its own.
            return [
                FinalizerStep(
                    counted(
                        "DELETE FROM \(t) AS t WHERE t.\(c) IN (SELECT DISTINCT \(c) FROM \(s)) OR (t.\(c) IS NULL AND EXISTS (SELECT 1 FROM \(s) WHERE \(c) IS NULL))"
                    ), counts: .deleted),
                FinalizerStep(counted(insertAll), counts: .inserted),
            ]
        case .scd2(let policy):
            let hash = q(TechnicalColumns.rowHash)
            let from = q(TechnicalColumns.validFrom)
            let to = q(TechnicalColumns.validTo)
            let current = q(TechnicalColumns.isCurrent)
            var steps = [
                FinalizerStep(
                    counted(
                        "UPDATE \(t) AS t SET \(to) = \(ts), \(current) = false FROM \(s) AS s WHERE \(keyMatch(key)) AND t.\(current) AND t.\(hash) IS DISTINCT FROM s.\(hash)"
                    ), counts: .updated),
                FinalizerStep(
                    counted(
                        "INSERT INTO \(t) (\(cols), \(from), \(to), \(current)) SELECT \(scols), \(ts), NULL, true FROM \(s) AS s WHERE NOT EXISTS (SELECT 1 FROM \(t) AS t WHERE \(keyMatch(key)) AND t.\(current))"
                    ), counts: .inserted),
            ]
            if policy == .expire, plan.complete {
                steps.append(
                    FinalizerStep(
                        counted(
                            "UPDATE \(t) AS t SET \(to) = \(ts), \(current) = false WHERE t.\(current) AND NOT EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)))"
                        ), counts: .deleted))
            }
            return steps
        }
    }
}

extension FinalizerSQL {
    /// Marks, in `__dpone__unchanged`, the update that moved a row to a new key (the staged row just
    /// before it is the delete of the old key): its unchanged columns come from the old key's row.
    public static let movedMarker = TechnicalColumns.movedMarker

    /// cdc_apply, unchanged TOAST: statements that fill, in staging, the columns an event lists in
    /// `__dpone__unchanged` with the value they had, each returning how many rows it filled. Run
    /// `first` once, then `repeated` until they fill nothing (each round resolves one more link of
    /// key changes chained within the checkpoint). Events are in staging order (`__dpone__seq`);
    /// a row's *lifetime* is its events since the last delete of its key.
    ///
    /// - same key: the latest earlier event of the lifetime that carries the column (not listed, not
    ///   a delete) gives the value;
    /// - a moved row (key change, `movedMarker`): from the old key's lifetime before the delete that
    ///   moved it (its latest carrier), else, unless that lifetime began with a moved row still
    ///   waiting to be filled (next round), from the target's row of the old key (its value before
    ///   this checkpoint).
    ///
    /// What stays listed keeps the target row's value of the same key (the lifetime began before this
    /// checkpoint).
    public static func cdcFillSteps(_ plan: LoadPlan) -> (first: [String], repeated: [String]) {
        let s = plan.staging.sql
        let t = plan.target.sql
        let key = plan.uniqueKey
        let u = q(TechnicalColumns.unchanged)
        let op = q(TechnicalColumns.operation)
        let seq = q(TechnicalColumns.sequence)
        let delete = String(RowOperation.delete.rawValue)
        let moved = PostgresSQL.quoteLiteral(movedMarker)
        var sameKey: [String] = []
        var fromOldKey: [String] = []
        for column in plan.columns where !key.contains(column) && column != TechnicalColumns.lsn {
            let c = q(column)
            let name = PostgresSQL.quoteLiteral(column)
            /// Events `p` of `ref`'s lifetime before `ref`.
            func lifetime(_ ref: String) -> String {
                "\(keyMatch(key, "p", ref)) AND p.\(seq) < \(ref).\(seq) AND NOT EXISTS (SELECT 1 FROM \(s) AS x WHERE \(keyMatch(key, "x", ref)) AND x.\(op) = \(delete) AND x.\(seq) > p.\(seq) AND x.\(seq) < \(ref).\(seq))"
            }
            let carries = "p.\(op) <> \(delete) AND NOT (coalesce(p.\(u), '[]')::jsonb ? \(name))"
            let listed = "s.\(u) IS NOT NULL AND s.\(u)::jsonb ? \(name)"
            let drop = "\(u) = (s.\(u)::jsonb - \(name))::text"
            sameKey.append(
                counted(
                    "UPDATE \(s) AS s SET \(c) = (SELECT p.\(c) FROM \(s) AS p WHERE \(lifetime("s")) AND \(carries) ORDER BY p.\(seq) DESC LIMIT 1), \(drop) WHERE \(listed) AND EXISTS (SELECT 1 FROM \(s) AS p WHERE \(lifetime("s")) AND \(carries))"
                ))
            let oldCarrier = "FROM \(s) AS p, \(s) AS d WHERE d.\(seq) = s.\(seq) - 1 AND \(lifetime("d")) AND \(carries)"
            let oldWaiting =
                "FROM \(s) AS p, \(s) AS d WHERE d.\(seq) = s.\(seq) - 1 AND \(lifetime("d")) AND p.\(u) IS NOT NULL AND p.\(u)::jsonb ? \(name) AND p.\(u)::jsonb ? \(moved)"
            fromOldKey.append(
                counted(
                    "UPDATE \(s) AS s SET \(c) = CASE WHEN EXISTS (SELECT 1 \(oldCarrier)) THEN (SELECT p.\(c) \(oldCarrier) ORDER BY p.\(seq) DESC LIMIT 1) ELSE (SELECT t.\(c) FROM \(t) AS t, \(s) AS d WHERE d.\(seq) = s.\(seq) - 1 AND \(keyMatch(key, "t", "d"))) END, \(drop) WHERE \(listed) AND s.\(u)::jsonb ? \(moved) AND (EXISTS (SELECT 1 \(oldCarrier)) OR NOT EXISTS (SELECT 1 \(oldWaiting)))"
                ))
        }
        return (sameKey, fromOldKey + sameKey)
    }

    /// cdc_apply from a monotonic source: deletes the staged events at or below `appliedLSN` (the
    /// highest lsn already published; digits only), returning how many. A key change's delete and
    /// update share their commit lsn, so they stay or go together.
    public static func cdcDropApplied(_ plan: LoadPlan, appliedLSN: String) -> String {
        let lsn = appliedLSN.allSatisfy { $0.isNumber || $0 == "-" } ? appliedLSN : "NULL"
        return "WITH gone AS (DELETE FROM \(plan.staging.sql) WHERE \(q(TechnicalColumns.lsn)) <= \(lsn) RETURNING 1) SELECT count(*) FROM gone"
    }

    /// cdc_apply of a TRUNCATE of the source (`on_truncate: truncate_target`) staged before the
    /// events whose sequence is `from` or more: deletes every target row and the staged events
    /// before it. The first statement returns how many target rows were deleted.
    public static func cdcTruncate(_ plan: LoadPlan, from sequence: Int64) -> [String] {
        [
            "WITH gone AS (DELETE FROM \(plan.target.sql) RETURNING 1) SELECT count(*) FROM gone",
            "DELETE FROM \(plan.staging.sql) WHERE \(q(TechnicalColumns.sequence)) < \(sequence)",
        ]
    }

    /// cdc_apply of a snapshot checkpoint (`CheckpointContext.isComplete`: staging holds the whole
    /// source table): deletes the target rows whose key staging lacks and whose lsn is below the
    /// snapshot's, returning how many. A snapshot taken again after a crash before its state was
    /// written so leaves no row the source deleted in between.
    public static func cdcSnapshotPrune(_ plan: LoadPlan) -> String {
        let t = plan.target.sql
        let s = plan.staging.sql
        let lsn = q(TechnicalColumns.lsn)
        return "WITH gone AS (DELETE FROM \(t) AS t WHERE NOT EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(plan.uniqueKey))) AND (t.\(lsn) IS NULL OR t.\(lsn) < (SELECT coalesce(max(\(lsn)), 9223372036854775807) FROM \(s))) RETURNING 1) SELECT count(*) FROM gone"
    }

    /// `duplicate_policy: last`: deletes every staged row of a key but its last (staging is filled by
    /// one COPY into a fresh table, so physical order is staging order), returning how many.
    public static func keepLastPerKey(_ plan: LoadPlan) -> String {
        let s = plan.staging.sql
        let later = plan.stagesOperations ? "b.\(q(TechnicalColumns.sequence)) > a.\(q(TechnicalColumns.sequence))" : "b.ctid > a.ctid"
        return "WITH gone AS (DELETE FROM \(s) AS a USING \(s) AS b WHERE \(keyMatch(plan.uniqueKey, "a", "b")) AND \(later) RETURNING 1) SELECT count(*) FROM gone"
    }

    /// Whether any staged event lists unchanged columns (else the fill is skipped).
    public static func cdcNeedsFill(_ plan: LoadPlan) -> String {
        "SELECT count(*) FROM (SELECT 1 FROM \(plan.staging.sql) WHERE \(q(TechnicalColumns.unchanged)) IS NOT NULL LIMIT 1) AS listed"
    }

    /// An index on the staged keys and order for the fill's lookups.
    public static func cdcFillIndex(_ plan: LoadPlan) -> String {
        "CREATE INDEX ON \(plan.staging.sql) (\(list(plan.uniqueKey)), \(q(TechnicalColumns.sequence)))"
    }

    /// cdc_apply, after the fill (`cdcFillSteps`): per key the last event (highest `__dpone__lsn`,
    /// then `__dpone__seq`) is applied, only when its lsn is above the target row's `__dpone__lsn`
    /// (NULL counts as below everything): a delete deletes the row; any other operation updates the
    /// row (columns still listed as unchanged are left as they are) or inserts it when the key is
    /// absent.
    static func cdcApplySteps(_ plan: LoadPlan) -> [FinalizerStep] {
        let t = plan.target.sql
        let s = plan.staging.sql
        let key = plan.uniqueKey
        let lsn = q(TechnicalColumns.lsn)
        let unchanged = q(TechnicalColumns.unchanged)
        let op = q(TechnicalColumns.operation)
        let seq = q(TechnicalColumns.sequence)
        let delete = String(RowOperation.delete.rawValue)
        let valueColumns = plan.columns.filter { !key.contains($0) && $0 != TechnicalColumns.lsn }
        var steps: [FinalizerStep] = []
        let last =
            "last AS (SELECT DISTINCT ON (\(list(key))) * FROM \(s) ORDER BY \(list(key)), \(lsn) DESC, \(seq) DESC)"
        let newer = "(t.\(lsn) IS NULL OR t.\(lsn) < s.\(lsn))"
        func withLast(_ statement: String) -> String {
            "WITH \(last), affected AS (\(statement) RETURNING 1) SELECT count(*) FROM affected"
        }
        steps.append(
            FinalizerStep(
                withLast("DELETE FROM \(t) AS t USING last AS s WHERE \(keyMatch(key)) AND s.\(op) = \(delete) AND \(newer)"),
                counts: .deleted))
        let sets = valueColumns.map { column -> String in
            let c = q(column)
            return "\(c) = CASE WHEN s.\(unchanged) IS NOT NULL AND s.\(unchanged)::jsonb ? \(PostgresSQL.quoteLiteral(column)) THEN t.\(c) ELSE s.\(c) END"
        } + ["\(lsn) = s.\(lsn)"]
        steps.append(
            FinalizerStep(
                withLast(
                    "UPDATE \(t) AS t SET \(sets.joined(separator: ", ")) FROM last AS s WHERE \(keyMatch(key)) AND s.\(op) <> \(delete) AND \(newer)"
                ), counts: .updated))
        steps.append(
            FinalizerStep(
                withLast(
                    "INSERT INTO \(t) (\(list(plan.columns))) SELECT \(list(plan.columns, prefix: "s")) FROM last AS s WHERE s.\(op) <> \(delete) AND NOT EXISTS (SELECT 1 FROM \(t) AS t WHERE \(keyMatch(key)))"
                ), counts: .inserted))
        return steps
    }
}

extension FinalizerSQL {
    /// `incremental_merge` of staged rows that carry their operation (each key's last row only,
    /// after `keepLastPerKey`): keys whose row is a delete are removed from the target, the others
    /// merged by the policy.
    static func mergeWithDeletes(_ plan: LoadPlan, policy: MergePolicy) -> [FinalizerStep] {
        let t = plan.target.sql
        let s = plan.staging.sql
        let key = plan.uniqueKey
        let op = "s.\(q(TechnicalColumns.operation))"
        let delete = String(RowOperation.delete.rawValue)
        let cols = list(plan.columns)
        let scols = list(plan.columns, prefix: "s")
        let removeDeleted = FinalizerStep(
            counted("DELETE FROM \(t) AS t USING \(s) AS s WHERE \(keyMatch(key)) AND \(op) = \(delete)"), counts: .deleted)
        let insertLive = "INSERT INTO \(t) (\(cols)) SELECT \(scols) FROM \(s) AS s WHERE \(op) <> \(delete)"
        if policy == .upsert {
            let updates = plan.columns.filter { !key.contains($0) }
            let action =
                updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET " + updates.map { "\(q($0)) = EXCLUDED.\(q($0))" }.joined(separator: ", ")
            return [
                removeDeleted,
                FinalizerStep(
                    "WITH upserted AS (\(insertLive) ON CONFLICT (\(list(key))) \(action) RETURNING (xmax = 0) AS inserted) "
                        + "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted",
                    counts: .insertedAndUpdated),
            ]
        }
        return [
            removeDeleted,
            FinalizerStep(
                counted("DELETE FROM \(t) AS t USING \(s) AS s WHERE \(keyMatch(key)) AND \(op) <> \(delete)"), counts: .updated),
            FinalizerStep(counted(insertLive), counts: .inserted),
        ]
    }
}
