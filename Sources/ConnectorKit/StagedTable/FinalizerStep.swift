/// One statement of a database sink's publish steps, as data: rendered once from the sink's plan,
/// executed in its transaction, shown verbatim by `--dry-run`; `counts` says what the count it
/// returns (or the rows it affected) means.
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

