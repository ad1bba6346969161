import Flow

/// The SQL a finalizer runs, as data: rendered once from a `LoadPlan`, executed in one transaction,
/// shown verbatim by `--dry-run`.
public struct FinalizerStep: Sendable, Equatable {
    /// What the single count the statement returns means (nil: the statement returns nothing).
    public enum Counts: Sendable, Equatable {
        case inserted, updated, deleted, previousRows
        /// `(inserted, updated)` from one upsert.
        case insertedAndUpdated
    }

    public var sql: String
    public var counts: Counts?

    public init(_ sql: String, counts: Counts? = nil) {
        self.sql = sql
        self.counts = counts
    }
}

/// Renders the set-based SQL of every Postgres load strategy. Pure: no connection, no I/O.
public enum FinalizerSQL {
    static func q(_ name: String) -> String { PostgresSQL.quoteIdentifier(name) }

    static func list(_ names: [String], prefix: String? = nil) -> String {
        names.map { name in prefix.map { "\($0).\(q(name))" } ?? q(name) }.joined(separator: ", ")
    }

    /// `t.k1 = s.k1 AND t.k2 = s.k2`.
    static func keyMatch(_ keys: [String], _ a: String = "t", _ b: String = "s") -> String {
        keys.map { "\(a).\(q($0)) = \(b).\(q($0))" }.joined(separator: " AND ")
    }

    /// Wraps a data-modifying statement so it returns the number of rows it touched.
    static func counted(_ statement: String) -> String {
        "WITH affected AS (\(statement) RETURNING 1) SELECT count(*) FROM affected"
    }

    /// Checks run on staging before the target is touched; each returns one count that must be 0.
    public static func keyChecks(_ plan: LoadPlan) -> [(what: String, sql: String)] {
        if case .partitionReplace(let column, let max) = plan.mode {
            return [
                (
                    "partitions more than max_partitions_per_run (\(max))",
                    "SELECT greatest(count(*) - \(max), 0) FROM (SELECT DISTINCT \(q(column)) FROM \(plan.staging.sql)) AS partitions"
                )
            ]
        }
        if case .replace(let predicate) = plan.mode {
            // A staged row outside the window would survive the next replace of the same window
            // as a duplicate: the window must cover every staged row.
            return [
                (
                    "rows outside the replace window (\(predicate))",
                    "SELECT count(*) FROM \(plan.staging.sql) WHERE (\(predicate)) IS NOT TRUE"
                )
            ]
        }
        guard plan.matchesByKey, !plan.uniqueKey.isEmpty else { return [] }
        let s = plan.staging.sql
        let nulls = plan.uniqueKey.map { "\(q($0)) IS NULL" }.joined(separator: " OR ")
        // Change events repeat keys by nature: only NULL keys are refused.
        if plan.mode == .cdcApply { return [("rows with a NULL unique key", "SELECT count(*) FROM \(s) WHERE \(nulls)")] }
        return [
            ("rows with a NULL unique key", "SELECT count(*) FROM \(s) WHERE \(nulls)"),
            (
                "duplicate unique keys",
                "SELECT count(*) FROM (SELECT 1 FROM \(s) GROUP BY \(list(plan.uniqueKey)) HAVING count(*) > 1) AS duplicates"
            ),
        ]
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
        case .incrementalMerge(.deleteInsert):
            return [
                FinalizerStep(counted("DELETE FROM \(t) AS t USING \(s) AS s WHERE \(keyMatch(key))"), counts: .updated),
                FinalizerStep(counted(insertAll), counts: .inserted),
            ]
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
            if policy == .expire {
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
    /// cdc_apply, in the publish transaction:
    ///
    /// 1. Unchanged TOAST: for each non-key column `c`, a staged event that lists `c` in
    ///    `__dpone__unchanged` takes `c` from the latest earlier staged event of its key that carried
    ///    `c` (not a delete), and `c` leaves its list. What is still listed afterwards keeps the
    ///    target's current value.
    /// 2. Per key the last event (highest `__dpone__lsn`, then `__dpone__seq`) is applied, only when
    ///    its lsn is above the target row's `__dpone__lsn` (NULL counts as below everything):
    ///    a delete deletes the row; any other operation updates the row (columns still listed as
    ///    unchanged are left as they are) or inserts it when the key is absent.
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
        for column in valueColumns {
            let c = q(column)
            let name = PostgresSQL.quoteLiteral(column)
            let earlier =
                "FROM \(s) AS p WHERE \(keyMatch(key, "p", "s")) AND (p.\(lsn), p.\(seq)) < (s.\(lsn), s.\(seq)) AND p.\(op) <> \(delete) AND NOT (coalesce(p.\(unchanged), '[]')::jsonb ? \(name))"
            steps.append(
                FinalizerStep(
                    "UPDATE \(s) AS s SET \(c) = (SELECT p.\(c) \(earlier) ORDER BY p.\(lsn) DESC, p.\(seq) DESC LIMIT 1), \(unchanged) = (s.\(unchanged)::jsonb - \(name))::text WHERE s.\(unchanged) IS NOT NULL AND s.\(unchanged)::jsonb ? \(name) AND EXISTS (SELECT 1 \(earlier))"
                ))
        }
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
