import Flow

/// The BigQuery ledger (`__dpone__loads` in the target's dataset: one row per published checkpoint
/// and target) and the `state.type: bigquery` table (`__dpone__state`), as statements. Every value
/// is a literal or a script variable: they run inside the publish script.
public enum BigQueryLedger {
    static func q(_ name: String) -> String { BigQuerySQL.quote(name) }

    /// Creates the ledger when it is missing (idempotent).
    public static func ddl(_ ledger: BigQueryTable) -> String {
        "CREATE TABLE IF NOT EXISTS \(ledger.sql) (`pipeline` STRING NOT NULL, `target` STRING NOT NULL, `checkpoint` INT64 NOT NULL, "
            + "`load_id` STRING NOT NULL, `run_id` STRING NOT NULL, `positions` STRING NOT NULL, `inserted` INT64 NOT NULL, "
            + "`updated` INT64 NOT NULL, `deleted` INT64 NOT NULL, `committed_at` TIMESTAMP NOT NULL)"
    }

    static func owner(_ pipeline: String, _ target: BigQueryTable) -> String {
        "`pipeline` = \(BigQuerySQL.literal(pipeline)) AND `target` = \(BigQuerySQL.literal(target.description))"
    }

    /// The ledger's row for `checkpoint`: inserted, updated, deleted, positions.
    public static func row(_ ledger: BigQueryTable, pipeline: String, target: BigQueryTable, checkpoint: UInt64) -> String {
        "SELECT `inserted`, `updated`, `deleted`, `positions` FROM \(ledger.sql) WHERE \(owner(pipeline, target)) AND `checkpoint` = \(checkpoint)"
    }

    /// The newest checkpoint the ledger holds for the pipeline and target (NULL when none), with
    /// its positions.
    public static func newest(_ ledger: BigQueryTable, pipeline: String, target: BigQueryTable) -> String {
        "SELECT `checkpoint`, `positions` FROM \(ledger.sql) WHERE \(owner(pipeline, target)) ORDER BY `checkpoint` DESC LIMIT 1"
    }

    /// Fails the publish script when a checkpoint at or past `checkpoint` was published since the
    /// ledger was read (a concurrent run): no row is touched. Then a `DELETE` that matches nothing
    /// but mutates the ledger: two scripts publishing at once both mutate it, so BigQuery aborts one
    /// of them ("concurrent update"), even when the strategy only appends.
    public static func guardUnpublished(_ ledger: BigQueryTable, pipeline: String, target: BigQueryTable, checkpoint: UInt64) -> [String] {
        [
            "SELECT ERROR(\(BigQuerySQL.literal("dpone: checkpoint \(checkpoint) of pipeline '\(pipeline)' was published concurrently into \(target)"))) "
                + "FROM \(ledger.sql) WHERE \(owner(pipeline, target)) AND `checkpoint` >= \(checkpoint)",
            "DELETE FROM \(ledger.sql) WHERE \(owner(pipeline, target)) AND `checkpoint` = \(checkpoint)",
        ]
    }

    /// The ledger row, with the counts the script gathered.
    public static func record(
        _ ledger: BigQueryTable, pipeline: String, target: BigQueryTable, checkpoint: UInt64, loadID: String, runID: String, positions: String
    ) -> String {
        "INSERT INTO \(ledger.sql) (`pipeline`, `target`, `checkpoint`, `load_id`, `run_id`, `positions`, `inserted`, `updated`, `deleted`, `committed_at`) "
            + "VALUES (\(BigQuerySQL.literal(pipeline)), \(BigQuerySQL.literal(target.description)), \(checkpoint), \(BigQuerySQL.literal(loadID)), "
            + "\(BigQuerySQL.literal(runID)), \(BigQuerySQL.literal(positions)), dpone_inserted, dpone_updated, dpone_deleted, dpone_now)"
    }

    /// Creates the state table when it is missing (idempotent).
    public static func stateDDL(_ table: BigQueryTable) -> String {
        "CREATE TABLE IF NOT EXISTS \(table.sql) (`pipeline` STRING NOT NULL, `checkpoint` INT64 NOT NULL, `document` STRING NOT NULL, "
            + "`committed_at` TIMESTAMP NOT NULL)"
    }

    /// Replaces the pipeline's state row with `checkpoint` when the stored one is older (or missing).
    public static func writeState(_ table: BigQueryTable, pipeline: String, checkpoint: UInt64, document: String) -> [String] {
        let p = BigQuerySQL.literal(pipeline)
        return [
            "DELETE FROM \(table.sql) WHERE `pipeline` = \(p) AND `checkpoint` < \(checkpoint)",
            "INSERT INTO \(table.sql) (`pipeline`, `checkpoint`, `document`, `committed_at`) SELECT \(p), \(checkpoint), "
                + "\(BigQuerySQL.literal(document)), CURRENT_TIMESTAMP() FROM UNNEST([1]) WHERE NOT EXISTS (SELECT 1 FROM \(table.sql) WHERE `pipeline` = \(p))",
        ]
    }

    public static func readState(_ table: BigQueryTable, pipeline: String) -> String {
        "SELECT `checkpoint`, `document` FROM \(table.sql) WHERE `pipeline` = \(BigQuerySQL.literal(pipeline))"
    }
}
