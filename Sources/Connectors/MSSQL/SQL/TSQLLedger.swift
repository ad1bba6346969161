import Flow

/// The SQL Server ledger (`__dpone__loads`, one row per published checkpoint and target) and the
/// `state.type: mssql` store (`__dpone__state`), as statements. Every value is a literal: the
/// statements run inside the publish transaction.
public enum TSQLLedger {
    static func q(_ name: String) -> String { TSQL.quote(name) }

    /// Creates the ledger when it is missing (idempotent).
    public static func ddl(_ ledger: TSQLTable) -> String {
        """
        IF OBJECT_ID(\(ledger.objectLiteral), N'U') IS NULL CREATE TABLE \(ledger.sql) (\
        [pipeline] nvarchar(400) NOT NULL, [target] nvarchar(400) NOT NULL, [checkpoint] bigint NOT NULL, \
        [load_id] nvarchar(64) NOT NULL, [run_id] nvarchar(64) NOT NULL, [positions] nvarchar(max) NOT NULL, \
        [inserted] bigint NOT NULL, [updated] bigint NOT NULL, [deleted] bigint NOT NULL, \
        [committed_at] datetimeoffset(7) NOT NULL DEFAULT SYSDATETIMEOFFSET(), [applied_lsn] bigint NULL, \
        PRIMARY KEY ([pipeline], [target], [checkpoint]))
        """
    }

    static func owner(_ pipeline: String, _ target: TSQLTable) -> String {
        "[pipeline] = \(TSQL.literal(pipeline)) AND [target] = \(TSQL.literal(target.description))"
    }

    /// The ledger's row for `checkpoint` (inserted, updated, deleted, positions), locked until commit.
    public static func row(_ ledger: TSQLTable, pipeline: String, target: TSQLTable, checkpoint: UInt64) -> String {
        "SELECT [inserted], [updated], [deleted], [positions] FROM \(ledger.sql) WITH (UPDLOCK, HOLDLOCK) WHERE \(owner(pipeline, target)) AND [checkpoint] = \(checkpoint)"
    }

    /// The newest checkpoint the ledger holds for the pipeline and target (NULL when none), with
    /// the key range locked so a concurrent publisher waits.
    public static func newest(_ ledger: TSQLTable, pipeline: String, target: TSQLTable) -> String {
        "SELECT MAX([checkpoint]) FROM \(ledger.sql) WITH (UPDLOCK, HOLDLOCK) WHERE \(owner(pipeline, target))"
    }

    public static func record(
        _ ledger: TSQLTable, pipeline: String, target: TSQLTable, checkpoint: UInt64, loadID: String, runID: String,
        positions: String, commit: SinkCommit
    ) -> String {
        "INSERT INTO \(ledger.sql) ([pipeline], [target], [checkpoint], [load_id], [run_id], [positions], [inserted], [updated], [deleted]) "
            + "VALUES (\(TSQL.literal(pipeline)), \(TSQL.literal(target.description)), \(checkpoint), \(TSQL.literal(loadID)), "
            + "\(TSQL.literal(runID)), \(TSQL.literal(positions)), \(commit.inserted), \(commit.updated), \(commit.deleted))"
    }

    /// The state store's default table.
    public static let stateTable = TSQLTable(schema: "dbo", name: "__dpone__state")

    /// Creates the state table when it is missing (idempotent).
    public static func stateDDL(_ table: TSQLTable = stateTable) -> String {
        """
        IF OBJECT_ID(\(table.objectLiteral), N'U') IS NULL CREATE TABLE \(table.sql) (\
        [pipeline] nvarchar(400) NOT NULL PRIMARY KEY, [checkpoint] bigint NOT NULL, [document] nvarchar(max) NOT NULL, \
        [committed_at] datetimeoffset(7) NOT NULL DEFAULT SYSDATETIMEOFFSET(), [fencing_token] bigint NOT NULL DEFAULT 0)
        """
    }

    /// Writes the pipeline's state row when none exists or the stored checkpoint is lower: an
    /// `UPDATE` under `UPDLOCK, HOLDLOCK`, then an `INSERT` when the row is missing (no `MERGE`).
    /// Returns one row, the checkpoint written, or none when a newer or equal one is stored.
    public static func writeState(_ table: TSQLTable = stateTable, pipeline: String, checkpoint: UInt64, document: String) -> String {
        let p = TSQL.literal(pipeline)
        return """
            UPDATE \(table.sql) WITH (UPDLOCK, HOLDLOCK) SET [checkpoint] = \(checkpoint), [document] = \(TSQL.literal(document)), \
            [committed_at] = SYSDATETIMEOFFSET() WHERE [pipeline] = \(p) AND [checkpoint] < \(checkpoint); \
            IF @@ROWCOUNT = 0 AND NOT EXISTS (SELECT 1 FROM \(table.sql) WITH (UPDLOCK, HOLDLOCK) WHERE [pipeline] = \(p)) \
            INSERT INTO \(table.sql) ([pipeline], [checkpoint], [document]) VALUES (\(p), \(checkpoint), \(TSQL.literal(document))); \
            SELECT [checkpoint] FROM \(table.sql) WHERE [pipeline] = \(p) AND [checkpoint] = \(checkpoint)
            """
    }

    public static func readState(_ table: TSQLTable = stateTable, pipeline: String) -> String {
        "SELECT [checkpoint], [document] FROM \(table.sql) WHERE [pipeline] = \(TSQL.literal(pipeline))"
    }
}

/// SQL Server change data capture, read by LSN windows of whole transactions.
///
/// A window runs from just after the stored LSN to the database's maximum LSN when the window
/// starts; every row of a transaction carries the same `__$start_lsn`, so a window bounded by an
/// LSN never cuts one. Rows are ordered by `(__$start_lsn, __$seqval)`. The checkpoint stores the
/// window's upper LSN and is committed after the sink published, as for PostgreSQL.
public enum TSQLCDC {
    /// The capture instance's lowest retained LSN: a stored LSN below it means retention cleaned
    /// up changes dpone never read (a resync is needed).
    public static func minLSN(captureInstance: String) -> String {
        "SELECT sys.fn_cdc_get_min_lsn(\(TSQL.literal(captureInstance)))"
    }

    /// The database's newest LSN: the window's upper bound.
    public static let maxLSN = "SELECT sys.fn_cdc_get_max_lsn()"

    /// The changes of `(after, upTo]`, every column of the capture instance plus the CDC metadata,
    /// in commit order. `after` nil: from the capture instance's first LSN.
    public static func window(captureInstance: String, columns: [String], after: [UInt8]?, upTo: [UInt8]) -> String {
        let from = after.map { "sys.fn_cdc_increment_lsn(\(TSQL.lsn($0)))" } ?? "sys.fn_cdc_get_min_lsn(\(TSQL.literal(captureInstance)))"
        let list = (["__$start_lsn", "__$seqval", "__$operation"] + columns).map(TSQL.quote).joined(separator: ", ")
        return "SELECT \(list) FROM cdc.\(TSQL.quote("fn_cdc_get_all_changes_" + captureInstance))(\(from), \(TSQL.lsn(upTo)), N'all') "
            + "ORDER BY [__$start_lsn], [__$seqval]"
    }

    /// Refuses a stored LSN that retention already cleaned (`stored < min`), naming both.
    public static func checkRetention(stored: [UInt8], min: [UInt8], captureInstance: String) throws {
        guard stored.lexicographicallyPrecedes(min) else { return }
        throw DponeError(
            .state,
            "the stored CDC position \(TSQL.lsn(stored)) of capture instance \(captureInstance) is below its oldest retained change \(TSQL.lsn(min)): changes were cleaned up before dpone read them",
            hint: "resync the table (dpone resync MANIFEST), or raise the CDC cleanup job's retention",
            context: ["capture_instance": captureInstance])
    }

    /// `__$operation`: 1 delete, 2 insert, 3 update (before image), 4 update (after image).
    public static func operation(_ code: Int) -> RowOperation? {
        switch code {
        case 1: .delete
        case 2: .insert
        case 4: .upsert
        default: nil  // 3: the before image, not applied
        }
    }
}
