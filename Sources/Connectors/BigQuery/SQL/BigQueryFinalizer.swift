import ConnectorKit
import Flow

/// Everything the BigQuery publish needs for one checkpoint (`StagedLoadPlan` over BigQuery tables).
public typealias BigQueryLoadPlan = StagedLoadPlan<BigQueryTable>

/// The set-based GoogleSQL of every BigQuery load strategy, and the one multi-statement script that
/// publishes a checkpoint. Pure: no client, no I/O.
///
/// BigQuery has no per-statement row count inside a script (`@@row_count` is not portable to the
/// emulator), so each counted statement is preceded by a `SELECT COUNT(*)` of exactly the rows it
/// will touch, added to a script variable (`dpone_inserted`, `dpone_updated`, `dpone_deleted`)
/// inside the same transaction. The ledger row takes those variables, and the script's last
/// statement returns them.
public enum BigQueryFinalizer {
    static func q(_ name: String) -> String { BigQuerySQL.quote(name) }

    static func list(_ names: [String], prefix: String? = nil) -> String { SQLLists.list(names, quote: q, prefix: prefix) }

    static func keyMatch(_ keys: [String], _ a: String = "t", _ b: String = "s") -> String { SQLLists.keyMatch(keys, quote: q, a, b) }

    /// The script's load timestamp: one instant for every row the checkpoint touches.
    public static let loadTimestampSQL = "dpone_now"

    /// Checks on staging before the target is touched; each returns one count that must be 0.
    public static func keyChecks(_ plan: BigQueryLoadPlan) -> [(what: String, sql: String)] {
        let s = plan.staging.sql
        return StagingCheck.required(for: plan.mode, uniqueKey: plan.uniqueKey).map { check in
            switch check {
            case .partitionsOverLimit(let column, let max):
                (check.what, "SELECT GREATEST(COUNT(DISTINCT \(q(column))) + COUNTIF(\(q(column)) IS NULL) - \(max), 0) FROM \(s)")
            case .rowsOutsideWindow(let predicate):
                (check.what, "SELECT COUNT(*) FROM \(s) WHERE (\(predicate)) IS NOT TRUE")
            case .nullKeys(let key):
                (check.what, "SELECT COUNT(*) FROM \(s) WHERE " + key.map { "\(q($0)) IS NULL" }.joined(separator: " OR "))
            case .duplicateKeys(let key):
                (check.what, "SELECT COUNT(*) FROM (SELECT 1 FROM \(s) GROUP BY \(list(key)) HAVING COUNT(*) > 1)")
            }
        }
    }

    /// Keeps each key's last staged row (highest `__dpone__seq`): the `duplicate_policy: last`
    /// step, run on staging before the checks.
    public static func keepLastPerKey(_ plan: BigQueryLoadPlan) -> String {
        let s = plan.staging.sql
        let seq = q(TechnicalColumns.sequence)
        return "DELETE FROM \(s) AS a WHERE EXISTS (SELECT 1 FROM \(s) AS b WHERE \(keyMatch(plan.uniqueKey, "a", "b")) AND b.\(seq) > a.\(seq))"
    }

    /// The statements that publish the staged rows, in order: a step with `counts` is a
    /// `SELECT COUNT(*)` of the rows the next statement touches.
    public static func steps(_ plan: BigQueryLoadPlan) throws -> [FinalizerStep] {
        let t = plan.target.sql
        let key = plan.uniqueKey
        let ts = plan.loadTimestampSQL
        let cols = list(plan.columns)
        let scols = list(plan.columns, prefix: "s")
        let deleteOp = String(RowOperation.delete.rawValue)
        let op = q(TechnicalColumns.operation)
        // With staged operations, rows of deleted keys are not inserted.
        let staged = plan.stagesOperations ? "(SELECT * FROM \(plan.staging.sql) WHERE \(op) <> \(deleteOp))" : plan.staging.sql
        let s = plan.staging.sql
        let insertAll = "INSERT INTO \(t) (\(cols)) SELECT \(scols) FROM \(staged) AS s"
        let countStaged = "SELECT COUNT(*) FROM \(staged) AS s"
        let matched = "EXISTS (SELECT 1 FROM \(staged) AS s WHERE \(keyMatch(key)))"
        let notInTarget = "NOT EXISTS (SELECT 1 FROM \(t) AS t WHERE \(keyMatch(key)))"

        switch plan.mode {
        case .fullRefresh:
            // One transaction: readers see the old rows until COMMIT. (CREATE OR REPLACE would be
            // DDL, which a BigQuery transaction cannot hold.)
            return [
                FinalizerStep("SELECT COUNT(*) FROM \(t)", counts: .previousRows),
                FinalizerStep("DELETE FROM \(t) WHERE TRUE"),
                FinalizerStep(countStaged, counts: .inserted),
                FinalizerStep(insertAll),
            ]
        case .incrementalAppend(onlyNewRows: false):
            return [FinalizerStep(countStaged, counts: .inserted), FinalizerStep(insertAll)]
        case .incrementalAppend(onlyNewRows: true):
            return [
                FinalizerStep("\(countStaged) WHERE \(notInTarget)", counts: .inserted),
                FinalizerStep("\(insertAll) WHERE \(notInTarget)"),
            ]
        case .incrementalMerge(let policy) where policy == .deleteInsert || policy == .upsert:
            var steps: [FinalizerStep] = []
            if plan.stagesOperations {
                let deleted = "EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)) AND s.\(op) = \(deleteOp))"
                steps += [
                    FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(deleted)", counts: .deleted),
                    FinalizerStep("DELETE FROM \(t) AS t WHERE \(deleted)"),
                ]
            }
            if policy == .upsert {
                let updates = plan.columns.filter { !key.contains($0) }
                let update = updates.isEmpty ? "" : " WHEN MATCHED THEN UPDATE SET " + updates.map { "\(q($0)) = s.\(q($0))" }.joined(separator: ", ")
                return steps + [
                    FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(matched)", counts: .updated),
                    FinalizerStep("\(countStaged) WHERE \(notInTarget)", counts: .inserted),
                    FinalizerStep(
                        "MERGE \(t) AS t USING \(staged) AS s ON \(keyMatch(key))\(update) WHEN NOT MATCHED THEN INSERT (\(cols)) VALUES (\(scols))"),
                ]
            }
            return steps + [
                FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(matched)", counts: .updated),
                FinalizerStep("DELETE FROM \(t) AS t WHERE \(matched)"),
                FinalizerStep("\(countStaged) WHERE \(notInTarget)", counts: .inserted),
                FinalizerStep(insertAll),
            ]
        case .incrementalMerge(let policy):
            throw DponeError(.manifest, "merge_policy \(policy.rawValue) is a ClickHouse policy", hint: "use delete_insert (default) or upsert")
        case .replace(let predicate):
            return [
                FinalizerStep("SELECT COUNT(*) FROM \(t) WHERE (\(predicate))", counts: .deleted),
                FinalizerStep("DELETE FROM \(t) WHERE (\(predicate))"),
                FinalizerStep(countStaged, counts: .inserted),
                FinalizerStep(insertAll),
            ]
        case .partitionReplace(let column, _):
            let c = q(column)
            // NULL is a partition value too: IN never matches it, so it is handled on its own.
            let touched = "(t.\(c) IN (SELECT DISTINCT \(c) FROM \(s)) OR (t.\(c) IS NULL AND EXISTS (SELECT 1 FROM \(s) WHERE \(c) IS NULL)))"
            return [
                FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(touched)", counts: .deleted),
                FinalizerStep("DELETE FROM \(t) AS t WHERE \(touched)"),
                FinalizerStep(countStaged, counts: .inserted),
                FinalizerStep(insertAll),
            ]
        case .snapshotDiff(let policy):
            let hash = q(TechnicalColumns.rowHash)
            let deletedAt = q(TechnicalColumns.deletedAt)
            let revived = policy == .softDelete ? " OR t.\(deletedAt) IS NOT NULL" : ""
            // Changed rows (and, with soft deletes, rows that come back) are rewritten.
            let changed = "EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)) AND (t.\(hash) IS DISTINCT FROM s.\(hash)\(revived)))"
            var steps = [
                FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(changed)", counts: .updated),
                FinalizerStep("DELETE FROM \(t) AS t WHERE \(changed)"),
                FinalizerStep("\(countStaged) WHERE \(notInTarget)", counts: .inserted),
                FinalizerStep("\(insertAll) WHERE \(notInTarget)"),
            ]
            guard plan.complete else { return steps }
            let missing = "NOT EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)))"
            switch policy {
            case .hardDelete:
                steps += [
                    FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(missing)", counts: .deleted),
                    FinalizerStep("DELETE FROM \(t) AS t WHERE \(missing)"),
                ]
            case .softDelete:
                let live = "t.\(deletedAt) IS NULL AND \(missing)"
                steps += [
                    FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(live)", counts: .deleted),
                    FinalizerStep("UPDATE \(t) AS t SET \(deletedAt) = \(ts) WHERE \(live)"),
                ]
            case .ignore:
                break
            }
            return steps
        case .scd2(let policy):
            let hash = q(TechnicalColumns.rowHash)
            let from = q(TechnicalColumns.validFrom)
            let to = q(TechnicalColumns.validTo)
            let current = q(TechnicalColumns.isCurrent)
            let changed = "t.\(current) AND EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)) AND t.\(hash) IS DISTINCT FROM s.\(hash))"
            let noCurrent = "NOT EXISTS (SELECT 1 FROM \(t) AS t WHERE \(keyMatch(key)) AND t.\(current))"
            var steps = [
                FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(changed)", counts: .updated),
                FinalizerStep("UPDATE \(t) AS t SET \(to) = \(ts), \(current) = FALSE WHERE \(changed)"),
                FinalizerStep("\(countStaged) WHERE \(noCurrent)", counts: .inserted),
                FinalizerStep(
                    "INSERT INTO \(t) (\(cols), \(from), \(to), \(current)) SELECT \(scols), \(ts), NULL, TRUE FROM \(s) AS s WHERE \(noCurrent)"),
            ]
            if policy == .expire, plan.complete {
                let gone = "t.\(current) AND NOT EXISTS (SELECT 1 FROM \(s) AS s WHERE \(keyMatch(key)))"
                steps += [
                    FinalizerStep("SELECT COUNT(*) FROM \(t) AS t WHERE \(gone)", counts: .deleted),
                    FinalizerStep("UPDATE \(t) AS t SET \(to) = \(ts), \(current) = FALSE WHERE \(gone)"),
                ]
            }
            return steps
        case .cdcApply:
            throw DponeError(.usage, "a BigQuery sink does not publish \(plan.mode.mode.rawValue) in this build", hint: "use incremental_merge, which applies the source's deletes")
        }
    }

    // MARK: - The publish script

    /// The variables every publish script declares.
    static let declarations = [
        "DECLARE dpone_inserted INT64 DEFAULT 0", "DECLARE dpone_updated INT64 DEFAULT 0", "DECLARE dpone_deleted INT64 DEFAULT 0",
        "DECLARE dpone_staged INT64 DEFAULT 0", "DECLARE dpone_window INT64 DEFAULT NULL",
        "DECLARE dpone_now TIMESTAMP DEFAULT CURRENT_TIMESTAMP()",
    ]

    /// A step as a script statement: a count adds to its variable.
    static func statement(_ step: FinalizerStep) -> String {
        switch step.counts {
        case nil: step.sql
        case .inserted: "SET dpone_inserted = dpone_inserted + (\(step.sql))"
        case .updated: "SET dpone_updated = dpone_updated + (\(step.sql))"
        case .deleted, .previousRows: "SET dpone_deleted = dpone_deleted + (\(step.sql))"
        case .insertedAndUpdated: step.sql
        }
    }

    /// One checkpoint's script: the declarations, then `BEGIN TRANSACTION`, the `guards` (statements
    /// that fail the script when the ledger moved), the strategy's steps, the ledger row and the
    /// state row (`transactional`), `COMMIT TRANSACTION`, the `after` statements (dropping staging: DDL,
    /// outside the transaction) and `SELECT dpone_inserted, dpone_updated, dpone_deleted`.
    public static func script(transactional: [String], after: [String]) -> String {
        let body = declarations + ["BEGIN TRANSACTION"] + transactional + ["COMMIT TRANSACTION"] + after
            + ["SELECT dpone_inserted, dpone_updated, dpone_deleted, dpone_staged, dpone_window"]
        return body.map { $0 + ";" }.joined(separator: "\n")
    }

    /// After the strategy's statements, inside the transaction: the rows staged for publishing and
    /// the target's rows inside the strategy's window, which must be equal (the run result reports
    /// both). Append has no window: its inserted count is compared instead.
    public static func reconciliation(_ plan: BigQueryLoadPlan) -> [String] {
        let t = plan.target.sql
        let s = plan.staging.sql
        let key = plan.uniqueKey
        let staged =
            plan.stagesOperations
            ? "(SELECT * FROM \(s) WHERE \(q(TechnicalColumns.operation)) <> \(RowOperation.delete.rawValue))" : s
        let withStagedKey = "EXISTS (SELECT 1 FROM \(staged) AS s WHERE \(keyMatch(key)))"
        let window: String?
        switch plan.mode {
        case .fullRefresh: window = "SELECT COUNT(*) FROM \(t)"
        case .incrementalAppend, .cdcApply: window = nil
        case .incrementalMerge, .snapshotDiff: window = "SELECT COUNT(*) FROM \(t) AS t WHERE \(withStagedKey)"
        case .replace(let predicate): window = "SELECT COUNT(*) FROM \(t) WHERE (\(predicate))"
        case .partitionReplace(let column, _):
            let c = q(column)
            window = "SELECT COUNT(*) FROM \(t) AS t WHERE (t.\(c) IN (SELECT DISTINCT \(c) FROM \(s)) OR (t.\(c) IS NULL AND EXISTS (SELECT 1 FROM \(s) WHERE \(c) IS NULL)))"
        case .scd2: window = "SELECT COUNT(*) FROM \(t) AS t WHERE t.\(q(TechnicalColumns.isCurrent)) AND \(withStagedKey)"
        }
        return ["SET dpone_staged = (SELECT COUNT(*) FROM \(staged) AS s)"] + (window.map { ["SET dpone_window = (\($0))"] } ?? [])
    }

    /// The strategy's steps as script statements.
    public static func statements(_ plan: BigQueryLoadPlan) throws -> [String] { try steps(plan).map(statement) }
}
