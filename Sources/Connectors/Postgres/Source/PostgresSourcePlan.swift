import Flow

/// The columns a `PostgresSource` reads and emits, resolved once against the described table.
///
/// - Output columns follow the allowlist's order (table order without one).
/// - An incremental cursor column that is not in the allowlist is still read (appended last,
///   "hidden") so the cursor can advance, and dropped from every batch before it is sent.
/// - Throws `DponeError(.schema)` for an allowlisted or cursor column the table does not have (the
///   message lists the available columns) and for a cursor column whose type cannot be a cursor.
struct PostgresSourcePlan: Sendable {
    let table: PostgresTable
    /// The columns of the COPY, output columns first.
    let readColumns: [PostgresColumn]
    /// How many leading `readColumns` are emitted.
    let outputCount: Int
    /// The cursor column's index in `readColumns` (cursor mode only).
    let cursorIndex: Int?

    init(table: PostgresTable, options: PostgresSourceOptions) throws {
        self.table = table
        var selected = table.columns
        if let names = options.columns {
            selected = try names.map { try Self.column($0, of: table, role: "column") }
        }
        outputCount = selected.count
        if case .cursor(let name, _) = options.mode {
            let column = try Self.column(name, of: table, role: "incremental column")
            try PostgresCursor.checkCursorColumn(column, lookback: options.lookback, table: table.qualifiedName)
            if let index = selected.firstIndex(where: { $0.name == name }) {
                cursorIndex = index
            } else {
                cursorIndex = selected.count
                selected.append(column)
            }
        } else {
            cursorIndex = nil
        }
        readColumns = selected
    }

    var readSchema: Schema { Schema(readColumns.map(\.field)) }
    var outputSchema: Schema { Schema(readColumns.prefix(outputCount).map(\.field)) }
    var wireFormats: [PostgresWireFormat] { readColumns.map(\.wire) }
    var selectList: String { readColumns.map(\.selectExpression).joined(separator: ", ") }
    /// Whether batches carry a hidden cursor column to drop before sending.
    var hasHiddenColumns: Bool { readColumns.count > outputCount }

    /// `COPY (SELECT <columns> FROM <table> [WHERE (p1) AND (p2)...]) TO STDOUT (FORMAT binary)`.
    func copySQL(predicates: [String]) -> String {
        var select = "SELECT \(selectList) FROM \(table.qualifiedName)"
        if !predicates.isEmpty {
            select += " WHERE " + predicates.map { "(\($0))" }.joined(separator: " AND ")
        }
        return "COPY (\(select)) TO STDOUT (FORMAT binary)"
    }

    private static func column(_ name: String, of table: PostgresTable, role: String) throws -> PostgresColumn {
        if let column = table.columns.first(where: { $0.name == name }) { return column }
        let available = table.columns.map(\.name)
        throw DponeError(
            .schema, "\(role) \"\(name)\" is not a column of \(table.qualifiedName)",
            hint: "available columns: \(available.joined(separator: ", "))",
            context: ["table": table.qualifiedName, "column": name])
    }
}
