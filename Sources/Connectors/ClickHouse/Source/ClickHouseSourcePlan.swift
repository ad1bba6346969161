import Flow

/// One column of a described ClickHouse table (`DESCRIBE TABLE`).
struct ClickHouseSourceColumn: Sendable, Hashable {
    let name: String
    /// The type as the server prints it.
    let typeName: String
    /// `""`, `DEFAULT`, `MATERIALIZED`, `ALIAS` or `EPHEMERAL`.
    let defaultKind: String

    /// Whether `SELECT *` returns it (ordinary and DEFAULT columns).
    var isOrdinary: Bool { defaultKind.isEmpty || defaultKind == "DEFAULT" }
}

/// The columns a `ClickHouseSource` reads and emits, resolved once against the described table.
///
/// - Output columns follow the allowlist's order (table order without one; then only the ordinary
///   columns `SELECT *` would return).
/// - A cursor column that is not in the allowlist is still read (appended last, "hidden") so the
///   cursor can advance, and dropped from every batch before it is sent.
/// - Only the columns read are mapped: an unmappable type elsewhere in the table does not matter.
/// - Throws `DponeError(.schema)` for an allowlisted or cursor column the table does not have (the
///   message lists the available columns), for a column whose type has no mapping (naming column and
///   type), and for a cursor column whose type cannot be a cursor.
struct ClickHouseSourcePlan: Sendable {
    /// `database.table`, for messages.
    let table: String
    let readColumns: [ClickHouseSourceColumn]
    /// The parsed type of each read column.
    let readTypes: [ClickHouseType]
    /// The Flow field of each read column.
    let readFields: [Field]
    /// How many leading `readColumns` are emitted.
    let outputCount: Int
    /// The cursor column's index in `readColumns` (cursor mode only).
    let cursorIndex: Int?

    init(described: [ClickHouseSourceColumn], options: ClickHouseSourceOptions) throws {
        table = options.displayName
        let readable = described.filter { $0.defaultKind != "EPHEMERAL" }
        var selected = readable.filter(\.isOrdinary)
        if let names = options.columns {
            selected = try names.map { try Self.column($0, of: readable, table: options.displayName, role: "column") }
        }
        guard !selected.isEmpty else {
            throw DponeError(.schema, "\(options.displayName) has no columns to read", context: ["table": options.displayName])
        }
        outputCount = selected.count
        if case .cursor(let name, _) = options.mode {
            let column = try Self.column(name, of: readable, table: options.displayName, role: "incremental column")
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
        var types: [ClickHouseType] = []
        var fields: [Field] = []
        for column in selected {
            guard let type = ClickHouseType(parsing: column.typeName) else {
                throw DponeError(
                    .schema, "ClickHouse column \"\(column.name)\" has an unreadable type name '\(column.typeName)'",
                    hint: "cast it in a view or exclude the column", context: ["table": table, "column": column.name])
            }
            types.append(type)
            do {
                fields.append(try ClickHouseTypes.field(name: column.name, type: type, policy: options.typePolicy))
            } catch var error as DponeError {
                error.context["table"] = table
                throw error
            }
        }
        readTypes = types
        readFields = fields
        if let cursorIndex {
            try ClickHouseCursor.checkCursorColumn(
                name: selected[cursorIndex].name, type: types[cursorIndex], field: fields[cursorIndex],
                lookback: options.lookback, table: table)
        }
    }

    var readSchema: Schema { Schema(readFields) }
    var outputSchema: Schema { Schema(Array(readFields.prefix(outputCount))) }
    /// Whether batches carry a hidden cursor column to drop before sending.
    var hasHiddenColumns: Bool { readColumns.count > outputCount }

    /// `SELECT <columns> FROM <db>.<table> [FINAL] [WHERE (p1) AND (p2)...] FORMAT Native`.
    func selectSQL(qualifiedTable: String, final: Bool, predicates: [String]) -> String {
        var sql = "SELECT " + readColumns.map { ClickHouseSQL.quoteIdentifier($0.name) }.joined(separator: ", ")
        sql += " FROM \(qualifiedTable)"
        if final { sql += " FINAL" }
        if !predicates.isEmpty {
            sql += " WHERE " + predicates.map { "(\($0))" }.joined(separator: " AND ")
        }
        return sql + " FORMAT Native"
    }

    private static func column(
        _ name: String, of columns: [ClickHouseSourceColumn], table: String, role: String
    ) throws -> ClickHouseSourceColumn {
        if let column = columns.first(where: { $0.name == name }) { return column }
        throw DponeError(
            .schema, "\(role) \"\(name)\" is not a column of \(table)",
            hint: "available columns: \(columns.map(\.name).joined(separator: ", "))",
            context: ["table": table, "column": name])
    }
}
