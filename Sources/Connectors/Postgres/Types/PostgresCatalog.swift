import Flow

/// A column of a PostgreSQL table as dpone reads it.
public struct PostgresColumn: Sendable, Hashable {
    /// Name, logical type and nullability (`NOT NULL` → not nullable).
    public let field: Field
    /// The declared type, `format_type()` spelling: `numeric(12,2)`, `character varying(20)`, `text[]`.
    public let typeName: String
    public let wire: PostgresWireFormat
    /// The SELECT-list entry that reads it (quoted; casts for arrays, enums and text policies).
    public let selectExpression: String

    public var name: String { field.name }
}

/// A table's columns in attribute order, with its Flow schema and wire formats.
public struct PostgresTable: Sendable, Hashable {
    public let schemaName: String
    public let tableName: String
    public let columns: [PostgresColumn]

    /// `"schema"."table"`.
    public var qualifiedName: String { PostgresSQL.qualifiedName(schema: schemaName, name: tableName) }
    public var schema: Schema { Schema(columns.map(\.field)) }
    public var wireFormats: [PostgresWireFormat] { columns.map(\.wire) }
    /// The SELECT list reading every column: `"a", "b"::text AS "b", ...`.
    public var selectList: String { columns.map(\.selectExpression).joined(separator: ", ") }
}

/// Reads table definitions from the system catalogs.
public enum PostgresCatalog {
    /// The columns of `schema.table` (table, view, materialized view, foreign or partitioned table)
    /// mapped by `PostgresTypes`.
    /// - Throws: `DponeError(.schema)` when the table does not exist or a column's type cannot be
    ///   mapped (naming the column); `PostgresError` when the query fails.
    public static func describeTable(
        schema: String, table: String, on connection: PostgresConnection, policy: PostgresTypes.Policy = .strict
    ) async throws -> PostgresTable {
        let qualified = PostgresSQL.qualifiedName(schema: schema, name: table)
        let found = try await connection.query("SELECT to_regclass($1)::oid::text", parameters: [qualified])
        guard let oid = found.first?.first ?? nil else {
            throw DponeError(.schema, "table \(qualified) does not exist", context: ["table": qualified])
        }
        // A domain is read as its base type (one level); its own name stays in typeName.
        let rows = try await connection.query(
            """
            SELECT a.attname,
                   a.attnotnull,
                   pg_catalog.format_type(a.atttypid, a.atttypmod),
                   COALESCE(b.oid, t.oid)::text,
                   (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END)::text,
                   COALESCE(b.typtype, t.typtype)::text,
                   COALESCE(b.typcategory, t.typcategory)::text,
                   COALESCE(e.oid, 0)::text,
                   COALESCE(e.typtype, 'b')::text
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype
            LEFT JOIN pg_catalog.pg_type e ON e.oid = COALESCE(b.typelem, t.typelem) AND COALESCE(b.typcategory, t.typcategory) = 'A'
            WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """,
            parameters: [oid])
        var columns: [PostgresColumn] = []
        for row in rows {
            guard row.count == 9, let name = row[0], let notNull = row[1], let display = row[2],
                let typeOID = row[3].flatMap({ UInt32($0) }), let typmod = row[4].flatMap({ Int32($0) }),
                let kind = row[5]?.first, let category = row[6]?.first, let elementOID = row[7].flatMap({ UInt32($0) }),
                let elementKind = row[8]?.first
            else {
                throw DponeError(.internal, "unexpected catalog row for \(qualified)", context: ["table": qualified])
            }
            let type = PostgresTypes.CatalogType(
                oid: typeOID, typmod: typmod, kind: kind, category: category, displayName: display,
                elementOID: elementOID, elementKind: elementKind)
            let mapping: PostgresTypes.ColumnMapping
            do {
                mapping = try PostgresTypes.mapColumn(name, type, policy: policy)
            } catch var error as DponeError {
                error.context["table"] = qualified
                throw error
            }
            columns.append(
                PostgresColumn(
                    field: Field(name, mapping.type, nullable: notNull != "t"), typeName: display, wire: mapping.wire,
                    selectExpression: mapping.selectExpression))
        }
        return PostgresTable(schemaName: schema, tableName: table, columns: columns)
    }
}
