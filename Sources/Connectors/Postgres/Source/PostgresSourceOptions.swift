import Flow

/// What a `PostgresSource` reads and how.
///
/// - `columns`: an allowlist, read in the order given (nil reads every column in table order).
/// - `customPredicate`: SQL appended to the WHERE clause as `AND (<predicate>)`. It is trusted SQL
///   from the manifest, pasted as is.
/// - `mode`: what part of the table a run reads (see `Mode`).
/// - `batchRows` / `batchBytes`: a batch is cut as soon as either is reached.
/// - `typePolicy`: passed to `PostgresCatalog.describeTable` (e.g. read unbounded numerics as text).
public struct PostgresSourceOptions: Sendable, Hashable {
    /// Which rows a run reads. See `PostgresSource` for the state each mode keeps.
    public enum Mode: Sendable, Hashable {
        /// Every row (that matches `customPredicate`), every run.
        case full
        /// Rows whose `column` is greater than the stored cursor (`incremental_column`).
        ///
        /// `lookback` widens the window to `column > cursor - lookback` so rows committed late with
        /// an older value are read again: an interval for date and timestamp columns
        /// (`5 minutes`), a number for integer and numeric columns (`1000`). Surrounding single
        /// quotes are accepted (`'5 minutes'`). Use it with `incremental_merge`.
        case cursor(column: String, lookback: String? = nil)
        /// Rows written by transactions since the previous run (`incremental_strategy: xmin`).
        case xmin
    }

    public var url: String
    public var schema: String
    public var table: String
    public var columns: [String]?
    public var customPredicate: String?
    public var mode: Mode
    public var batchRows: Int
    public var batchBytes: Int
    public var typePolicy: PostgresTypes.Policy

    public static let defaultBatchRows = 65_536
    public static let defaultBatchBytes = 4 << 20

    public init(
        url: String, schema: String = "public", table: String, columns: [String]? = nil,
        customPredicate: String? = nil, mode: Mode = .full, batchRows: Int = defaultBatchRows,
        batchBytes: Int = defaultBatchBytes, typePolicy: PostgresTypes.Policy = .strict
    ) {
        self.url = url
        self.schema = schema
        self.table = table
        self.columns = columns
        self.customPredicate = customPredicate
        self.mode = mode
        self.batchRows = batchRows
        self.batchBytes = batchBytes
        self.typePolicy = typePolicy
    }

    /// `"schema"."table"`.
    public var qualifiedTable: String { PostgresSQL.qualifiedName(schema: schema, name: table) }

    /// The lookback text without surrounding single quotes, nil when absent or blank.
    var lookback: String? {
        guard case .cursor(_, let raw?) = mode else { return nil }
        var text = raw.trimmingWhitespace()
        if text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'") { text = String(text.dropFirst().dropLast()) }
        return text.isEmpty ? nil : text
    }

    /// - Throws: `DponeError(.manifest)` naming the first invalid option.
    func validate() throws {
        func fail(_ message: String) -> DponeError {
            DponeError(.manifest, message, context: ["table": qualifiedTable])
        }
        guard !table.isEmpty, !schema.isEmpty else { throw fail("the source table needs a schema and a name") }
        guard batchRows > 0 else { throw fail("batch_rows must be positive, got \(batchRows)") }
        guard batchBytes > 0 else { throw fail("batch_bytes must be positive, got \(batchBytes)") }
        if let columns {
            guard !columns.isEmpty else { throw fail("the column allowlist is empty") }
            let repeated = Dictionary(grouping: columns, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            guard repeated.isEmpty else {
                throw fail("the column allowlist names \(repeated.joined(separator: ", ")) more than once")
            }
        }
        if let predicate = customPredicate, predicate.trimmingWhitespace().isEmpty {
            throw fail("custom_predicate is empty")
        }
        if case .cursor(let column, _) = mode, column.isEmpty { throw fail("the incremental column is empty") }
        for text in [url, schema, table, customPredicate ?? "", lookback ?? ""] + (columns ?? []) + cursorColumns
        where text.utf8.contains(0) {
            throw fail("source options cannot contain a NUL character")
        }
    }

    private var cursorColumns: [String] {
        if case .cursor(let column, _) = mode { [column] } else { [] }
    }
}
