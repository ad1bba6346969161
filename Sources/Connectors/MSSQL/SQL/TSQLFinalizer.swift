import ConnectorKit
import Flow

/// Everything the SQL Server publish needs for one checkpoint (`StagedLoadPlan` over SQL Server
/// table names).
public typealias TSQLLoadPlan = StagedLoadPlan<TSQLTable>

/// The set-based T-SQL of every SQL Server load strategy. Pure: no connection, no I/O.
///
/// The whole sequence runs in one transaction opened with `SET XACT_ABORT ON` (any error rolls it
/// all back). There is no `MERGE` (it has known concurrency and correctness bugs): upserts are
/// `UPDATE ... FROM` then `INSERT ... WHERE NOT EXISTS` under `UPDLOCK, HOLDLOCK`, which hold the
/// key range until commit. A statement's count is its `@@ROWCOUNT` (`SQLRowCount`), except the
/// `SELECT COUNT_BIG(*)` steps, whose result is the count.
public enum TSQLFinalizer {
    static func q(_ name: String) -> String { TSQL.quote(name) }

    static func list(_ names: [String], prefix: String? = nil) -> String { SQLLists.list(names, quote: q, prefix: prefix) }

    /// `t.[k1] = s.[k1] AND t.[k2] = s.[k2]`.
    static func keyMatch(_ keys: [String], _ a: String = "t", _ b: String = "s") -> String { SQLLists.keyMatch(keys, quote: q, a, b) }

    /// `a` and `b` differ, NULLs compared as values (`IS DISTINCT FROM`, which SQL Server has only
    /// since 2022).
    static func distinct(_ a: String, _ b: String) -> String {
        "(\(a) <> \(b) OR (\(a) IS NULL AND \(b) IS NOT NULL) OR (\(a) IS NOT NULL AND \(b) IS NULL))"
    }

    /// Opens the publish transaction.
    public static let begin = ["SET XACT_ABORT ON", "BEGIN TRANSACTION"]

    /// Checks on staging before the target is touched; each returns one count that must be 0.
    public static func keyChecks(_ plan: TSQLLoadPlan) -> [(what: String, sql: String)] {
        let s = plan.staging.sql
        return StagingCheck.required(for: plan.mode, uniqueKey: plan.uniqueKey).map { check in
            switch check {
            case .partitionsOverLimit(let column, let max):
                (check.what, "SELECT CASE WHEN COUNT_BIG(*) > \(max) THEN COUNT_BIG(*) - \(max) ELSE 0 END FROM (SELECT DISTINCT \(q(column)) AS p FROM \(s)) AS partitions")
            case .rowsOutsideWindow(let predicate):
                // No IS NOT TRUE in T-SQL: a window that is false or unknown counts.
                (check.what, "SELECT COUNT_BIG(*) FROM \(s) WHERE CASE WHEN (\(predicate)) THEN 1 ELSE 0 END = 0")
            case .nullKeys(let key):
                (check.what, "SELECT COUNT_BIG(*) FROM \(s) WHERE " + key.map { "\(q($0)) IS NULL" }.joined(separator: " OR "))
            case .duplicateKeys(let key):
                (check.what, "SELECT COUNT_BIG(*) FROM (SELECT 1 AS one FROM \(s) GROUP BY \(list(key)) HAVING COUNT_BIG(*) > 1) AS duplicates")
            }
        }
    }

    /// The statements that publish the staged rows, in order. Throws for `cdc_apply`, which this
    /// sink does not publish yet, and for a ClickHouse merge policy.
    public static func steps(_ plan: TSQLLoadPlan) throws -> [FinalizerStep] {
        let t = plan.target.sql
        let s = plan.staging.sql
        let cols = list(plan.columns)
        let scols = list(plan.columns, prefix: "s")
        let insertAll = "INSERT INTO \(t) (\(cols)) SELECT \(scols) FROM \(s) AS s"
        let key = plan.uniqueKey
        let ts = plan.loadTimestampSQL
        let notInTarget = "NOT EXISTS (SELECT 1 FROM \(t) AS t WITH (UPDLOCK, HOLDLOCK) WHERE \(keyMatch(key)))"

        switch plan.mode {
        case .fullRefresh(.truncateInsert):
            return [
                FinalizerStep("SELECT COUNT_BIG(*) FROM \(t)", counts: .previousRows),
                // TRUNCATE is transactional in SQL Server: a rollback brings the rows back.
                FinalizerStep("TRUNCATE TABLE \(t)"),
                FinalizerStep("INSERT INTO \(t) WITH (TABLOCK) (\(cols)) SELECT \(scols) FROM \(s) AS s", counts: .inserted),
            ]
        case .fullRefresh(.exchange):
            let fresh = plan.target.sibling("new")
            let old = plan.target.sibling("old")
            return [
                FinalizerStep("SELECT COUNT_BIG(*) FROM \(t)", counts: .previousRows),
                FinalizerStep("DROP TABLE IF EXISTS \(fresh.sql)"),
                // The new table takes the target's columns and types (not its indexes or constraints).
                FinalizerStep("SELECT * INTO \(fresh.sql) FROM \(t) WHERE 1 = 0"),
                FinalizerStep("INSERT INTO \(fresh.sql) WITH (TABLOCK) (\(cols)) SELECT \(scols) FROM \(s) AS s", counts: .inserted),
                FinalizerStep("EXEC sp_rename \(plan.target.objectLiteral), \(TSQL.literal(old.name))"),
                FinalizerStep("EXEC sp_rename \(fresh.objectLiteral), \(TSQL.literal(plan.target.name))"),
                FinalizerStep("DROP TABLE \(old.sql)"),
            ]
        case .incrementalAppend(onlyNewRows: false):
            return [FinalizerStep(insertAll, counts: .inserted)]
        case .incrementalAppend(onlyNewRows: true):
            return [FinalizerStep("\(insertAll) WHERE \(notInTarget)", counts: .inserted)]
        case .incrementalMerge(.upsert):
            let updates = plan.columns.filter { !key.contains($0) }
            var steps: [FinalizerStep] = []
            if !updates.isEmpty {
                steps.append(
                    FinalizerStep(
                        "UPDATE t SET " + updates.map { "t.\(q($0)) = s.\(q($0))" }.joined(separator: ", ")
                            + " FROM \(t) AS t WITH (UPDLOCK, HOLDLOCK) INNER JOIN \(s) AS s ON \(keyMatch(key))",
                        counts: .updated))
            }
            steps.append(FinalizerStep("\(insertAll) WHERE \(notInTarget)", counts: .inserted))
            return steps
        case .incrementalMerge(.deleteInsert):
            return [
                FinalizerStep("DELETE t FROM \(t) AS t WITH (UPDLOCK, HOLDLOCK) INNER JOIN \(s) AS s ON \(keyMatch(key))", counts: .updated),
                FinalizerStep(insertAll, counts: .inserted),
            ]
        case .incrementalMerge(let policy):
            throw DponeError(
                .manifest, "merge_policy \(policy.rawValue) is a ClickHouse policy", hint: "use delete_insert (default) or upsert")
        case .replace(let predicate):
            return [
                FinalizerStep("DELETE FROM \(t) WHERE (\(predicate))", counts: .deleted),
                FinalizerStep(insertAll, counts: .inserted),
            ]
        case .partitionReplace(let column, _):
            let c = q(column)
            // NULL is a partition value too: IN never matches it, so it is handled on its own.
            return [
                FinalizerStep(
                    "DELETE t FROM \(t) AS t WITH (UPDLOCK, HOLDLOCK) WHERE t.\(c) IN (SELECT DISTINCT \(c) FROM \(s)) OR (t.\(c) IS NULL AND EXISTS (SELECT 1 FROM \(s) WHERE \(c) IS NULL))",
                    counts: .deleted),
                FinalizerStep(insertAll, counts: .inserted),
            ]
        case .snapshotDiff(let policy):
            let hash = q(TechnicalColumns.rowHash)
            let deletedAt = q(TechnicalColumns.deletedAt)
            let revived = policy == .softDelete ? " OR t.\(deletedAt) IS NOT NULL" : ""
            var steps = [
                // Changed rows (and, with soft deletes, rows that come back) are rewritten.
                FinalizerStep(
                    "DELETE t FROM \(t) AS t WITH (UPDLOCK, HOLDLOCK) INNER JOIN \(s) AS s ON \(keyMatch(key)) WHERE \(distinct("t.\(hash)", "s.\(hash)"))\(revived)",
                    counts: .updated),
                FinalizerStep("\(insertAll) WHERE \(notInTarget)", counts: .inserted),
            ]
            let missing = "NOT EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)))"
            guard plan.complete else { return steps }
            switch policy {
            case .hardDelete:
                steps.append(FinalizerStep("DELETE t FROM \(t) AS t WHERE \(missing)", counts: .deleted))
            case .softDelete:
                steps.append(
                    FinalizerStep("UPDATE t SET t.\(deletedAt) = \(ts) FROM \(t) AS t WHERE t.\(deletedAt) IS NULL AND \(missing)", counts: .deleted))
            case .ignore:
                break
            }
            return steps
        case .scd2(let policy):
            let hash = q(TechnicalColumns.rowHash)
            let from = q(TechnicalColumns.validFrom)
            let to = q(TechnicalColumns.validTo)
            let current = q(TechnicalColumns.isCurrent)
            var steps = [
                FinalizerStep(
                    "UPDATE t SET t.\(to) = \(ts), t.\(current) = 0 FROM \(t) AS t WITH (UPDLOCK, HOLDLOCK) INNER JOIN \(s) AS s ON \(keyMatch(key)) WHERE t.\(current) = 1 AND \(distinct("t.\(hash)", "s.\(hash)"))",
                    counts: .updated),
                FinalizerStep(
                    "INSERT INTO \(t) (\(cols), \(from), \(to), \(current)) SELECT \(scols), \(ts), NULL, 1 FROM \(s) AS s WHERE NOT EXISTS (SELECT 1 FROM \(t) AS t WITH (UPDLOCK, HOLDLOCK) WHERE \(keyMatch(key)) AND t.\(current) = 1)",
                    counts: .inserted),
            ]
            if policy == .expire, plan.complete {
                steps.append(
                    FinalizerStep(
                        "UPDATE t SET t.\(to) = \(ts), t.\(current) = 0 FROM \(t) AS t WHERE t.\(current) = 1 AND NOT EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)))",
                        counts: .deleted))
            }
            return steps
        case .cdcApply:
            throw DponeError(.usage, "a SQL Server sink does not publish \(plan.mode.mode.rawValue) in this build yet")
        }
    }
}
