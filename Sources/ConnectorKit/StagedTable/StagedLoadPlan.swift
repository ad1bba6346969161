import Flow

/// Everything a database sink needs to publish one checkpoint, decided before any SQL runs; `Table`
/// is the dialect's qualified table name.
///
/// The staging table holds exactly the rows of the checkpoint, with `columns` (business columns plus
/// any lineage columns). Strategy semantics follow dpone's documented load strategies.
public struct StagedLoadPlan<Table: Sendable>: Sendable {
    public var target: Table
    public var staging: Table
    /// Columns copied from staging to target, in order (quoted when rendered).
    public var columns: [String]
    public var uniqueKey: [String]
    public var mode: LoadStrategy
    /// The load's timestamp as a SQL expression: one instant for every row the load touches (soft
    /// deletes, SCD2 validity).
    public var loadTimestampSQL: String
    /// The staged rows are a complete copy of the source (`CheckpointContext.isComplete`). When
    /// false, `snapshot_diff` and `scd2` apply what was staged but delete or expire nothing: a key
    /// missing from a partial checkpoint only did not change.
    public var complete: Bool
    /// Staging carries each row's operation and order (`TechnicalColumns.operation`, `.sequence`):
    /// `incremental_merge` then keeps each key's last row and removes keys whose last row is a delete.
    public var stagesOperations: Bool

    public init(
        target: Table, staging: Table, columns: [String], uniqueKey: [String], mode: LoadStrategy,
        loadTimestampSQL: String, complete: Bool = true, stagesOperations: Bool = false
    ) {
        self.target = target
        self.staging = staging
        self.columns = columns
        self.uniqueKey = uniqueKey
        self.mode = mode
        self.loadTimestampSQL = loadTimestampSQL
        self.complete = complete
        self.stagesOperations = stagesOperations
    }

    /// Whether the mode matches rows by `uniqueKey` (staged keys must then be non-NULL).
    public var matchesByKey: Bool { mode.matchesByKey }
}

/// Lists and key joins, spelled with a dialect's identifier quoting.
public enum SQLLists {
    /// `a, b` or `s.a, s.b`.
    public static func list(_ names: [String], quote: (String) -> String, prefix: String? = nil) -> String {
        names.map { name in prefix.map { "\($0).\(quote(name))" } ?? quote(name) }.joined(separator: ", ")
    }

    /// `t.k1 = s.k1 AND t.k2 = s.k2`.
    public static func keyMatch(_ keys: [String], quote: (String) -> String, _ a: String = "t", _ b: String = "s") -> String {
        keys.map { "\(a).\(quote($0)) = \(b).\(quote($0))" }.joined(separator: " AND ")
    }
}
