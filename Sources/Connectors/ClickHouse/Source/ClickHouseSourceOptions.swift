import Flow

/// What a `ClickHouseSource` reads and how.
///
/// - `url`: the server's HTTP interface, `http[s]://[user[:password]@]host[:port]/` (see
///   `ClickHouseEndpoint`); credentials never reach logs or errors.
/// - `database` / `table`: the table (or view) read.
/// - `columns`: an allowlist, read in the order given (nil reads every ordinary column — not ALIAS,
///   MATERIALIZED or EPHEMERAL ones, which an allowlist may still name, except EPHEMERAL — in table order).
/// - `customPredicate`: SQL added to the WHERE clause as `(<predicate>)`. Trusted SQL from the
///   manifest, pasted as is.
/// - `mode`: `.full` or `.cursor` (see `Mode`).
/// - `final`: reads `FROM db.table FINAL` (ReplacingMergeTree / CollapsingMergeTree and friends merge
///   rows at read time). Plain MergeTree tables refuse FINAL (an error from the server).
/// - `batchRows` / `batchBytes`: a batch is cut as soon as either is reached (bytes estimated from
///   the average row size of the block being cut, so a batch may exceed `batchBytes` by about a row).
/// - `typePolicy`: the ClickHouse → Flow type choices (`ClickHouseTypePolicy`).
public struct ClickHouseSourceOptions: Sendable, Hashable {
    /// Which rows a run reads.
    public enum Mode: Sendable, Hashable {
        /// Every row (that matches `customPredicate`), every run.
        case full
        /// Rows whose `column` is greater than the stored cursor (`incremental_column`).
        ///
        /// `lookback` widens the window to `column > cursor - lookback` so rows written late with an
        /// older value are read again: a number for integer and decimal columns (`1000`), a duration
        /// for Date / DateTime / DateTime64 columns (`5 minutes`, `2 hours`, `1 day`; units second,
        /// minute, hour, day, week, singular or plural). Surrounding single quotes are accepted.
        /// Use it with `incremental_merge`.
        case cursor(column: String, lookback: String? = nil)
    }

    public var url: String
    public var database: String
    public var table: String
    public var columns: [String]?
    public var customPredicate: String?
    public var mode: Mode
    public var final: Bool
    public var batchRows: Int
    public var batchBytes: Int
    public var typePolicy: ClickHouseTypePolicy

    public static let defaultBatchRows = 65_536
    public static let defaultBatchBytes = 4 << 20

    public init(
        url: String, database: String = "default", table: String, columns: [String]? = nil,
        customPredicate: String? = nil, mode: Mode = .full, final: Bool = false, batchRows: Int = defaultBatchRows,
        batchBytes: Int = defaultBatchBytes, typePolicy: ClickHouseTypePolicy = ClickHouseTypePolicy()
    ) {
        self.url = url
        self.database = database
        self.table = table
        self.columns = columns
        self.customPredicate = customPredicate
        self.mode = mode
        self.final = final
        self.batchRows = batchRows
        self.batchBytes = batchBytes
        self.typePolicy = typePolicy
    }

    /// `` `database`.`table` ``.
    public var qualifiedTable: String { ClickHouseTableName(database: database, name: table).sql }

    /// `database.table`, for messages and positions.
    public var displayName: String { "\(database).\(table)" }

    /// The lookback text without surrounding single quotes, nil when absent or blank.
    var lookback: String? {
        guard case .cursor(_, let raw?) = mode else { return nil }
        var text = raw.strippingWhitespace()
        if text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'") {
            text = String(text.dropFirst().dropLast()).strippingWhitespace()
        }
        return text.isEmpty ? nil : text
    }

    /// - Throws: `DponeError(.manifest)` naming the first invalid option.
    func validate() throws {
        func fail(_ message: String) -> DponeError {
            DponeError(.manifest, message, context: ["table": displayName])
        }
        guard !table.isEmpty, !database.isEmpty else { throw fail("the source table needs a database and a name") }
        guard batchRows > 0 else { throw fail("batch_rows must be positive, got \(batchRows)") }
        guard batchBytes > 0 else { throw fail("batch_bytes must be positive, got \(batchBytes)") }
        if let columns {
            guard !columns.isEmpty else { throw fail("the column allowlist is empty") }
            let repeated = Dictionary(grouping: columns, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            guard repeated.isEmpty else {
                throw fail("the column allowlist names \(repeated.joined(separator: ", ")) more than once")
            }
        }
        if let predicate = customPredicate, predicate.strippingWhitespace().isEmpty {
            throw fail("custom_predicate is empty")
        }
        if case .cursor(let column, _) = mode, column.isEmpty { throw fail("the incremental column is empty") }
        for text in [url, database, table, customPredicate ?? "", lookback ?? ""] + (columns ?? []) + cursorColumns
        where text.utf8.contains(0) {
            throw fail("source options cannot contain a NUL character")
        }
    }

    private var cursorColumns: [String] {
        if case .cursor(let column, _) = mode { [column] } else { [] }
    }
}
