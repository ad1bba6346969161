import Flow

/// The columns of one appended row whose value the server did not send: unchanged TOASTed values
/// of an update ('u'). The row holds a NULL placeholder there; the caller must apply the row as a
/// partial update that keeps the target's current values in these columns.
public struct UnchangedColumns: Sendable, Hashable, CustomStringConvertible {
    /// Schema field indexes, ascending.
    public private(set) var indexes: [Int] = []

    public init(_ indexes: [Int] = []) {
        self.indexes = indexes.sorted()
    }

    public var isEmpty: Bool { indexes.isEmpty }
    public var count: Int { indexes.count }
    public func contains(_ index: Int) -> Bool { indexes.contains(index) }

    mutating func insert(_ index: Int) { indexes.append(index) }

    public var description: String { "unchanged\(indexes)" }
}

/// Appends `pgoutput` tuples (text values) of one relation into a batch with a chosen schema.
///
/// - Schema fields are matched to the relation's columns by name; the relation may have more
///   columns (they are skipped), a field the relation lacks is an error at `init`.
/// - Values are parsed from PostgreSQL's text output by the field's logical type: integers, floats
///   (`NaN`, `Infinity`), numeric exactly at the field's scale, bool `t`/`f`, date `YYYY-MM-DD`,
///   time, timestamp and timestamptz (`2024-01-02 03:04:05.123456+00`), uuid, json/jsonb as is,
///   bytea in hex (`\x...`), text as is. This assumes the stream's session settings that
///   `ReplicationStream` sets: `DateStyle=ISO`, `bytea_output=hex`, `TimeZone=UTC`.
///   `infinity` dates and timestamps, BC dates, numeric `NaN` and values that do not fit the
///   field are errors naming the table, the column and the value.
/// - 'u' (unchanged TOAST) is never turned into a value: the column gets a NULL placeholder and is
///   listed in the returned `UnchangedColumns`, unless `fallback` (the update's old tuple, present
///   with REPLICA IDENTITY FULL) has the value, which is then used.
/// - A row that fails half-way is taken back out of every column, so the builder stays aligned.
public struct PgOutputRowBuilder: Sendable {
    public let relation: PgOutputRelation
    public let schema: Schema
    /// For each schema field, the index of the relation column it reads.
    let sources: [Int]

    /// Reads `relation` into `schema` (fields matched by name, in any order).
    /// - Throws: `DponeError(.schema)` when a field has no column of that name in the relation.
    public init(relation: PgOutputRelation, schema: Schema) throws {
        var byName: [String: Int] = [:]
        for (i, column) in relation.columns.enumerated() where byName[column.name] == nil { byName[column.name] = i }
        var sources: [Int] = []
        for field in schema.fields {
            guard let i = byName[field.name] else {
                throw DponeError(
                    .schema, "column \"\(field.name)\" is not in the replicated table \(relation.qualifiedName)",
                    hint: "the table's replicated columns are: \(relation.columns.map(\.name).joined(separator: ", "))",
                    context: ["table": relation.qualifiedName, "column": field.name])
            }
            sources.append(i)
        }
        self.relation = relation
        self.schema = schema
        self.sources = sources
    }

    /// Reads every column of `relation` into the schema `schema(for:)` derives.
    public init(
        relation: PgOutputRelation, policy: PostgresTypes.Policy = .strict,
        catalogTypes: [UInt32: PostgresTypes.CatalogType] = [:]
    ) throws {
        try self.init(relation: relation, schema: Self.schema(for: relation, policy: policy, catalogTypes: catalogTypes))
    }

    /// The Flow schema of a relation through `PostgresTypes`, every field nullable (the protocol does
    /// not carry NOT NULL).
    ///
    /// Built-in types map by OID and typmod. Types the relation message cannot describe (enums,
    /// domains, other user types) are looked up in `catalogTypes` (by the column's type OID; a
    /// domain's entry should carry its base type's OID). Arrays are rejected: their text form is not
    /// JSON (the snapshot path reads them with `array_to_json`).
    public static func schema(
        for relation: PgOutputRelation, policy: PostgresTypes.Policy = .strict,
        catalogTypes: [UInt32: PostgresTypes.CatalogType] = [:]
    ) throws -> Schema {
        var fields: [Field] = []
        for column in relation.columns {
            let type =
                catalogTypes[column.typeOID]
                ?? PostgresTypes.CatalogType(
                    oid: column.typeOID, typmod: column.typmod, displayName: "type OID \(column.typeOID)")
            if type.category == "A" {
                throw DponeError(
                    .schema,
                    "column \"\(column.name)\" of \(relation.qualifiedName) is an array (\(type.displayName)), which logical replication decoding does not map yet",
                    hint: "leave the column out of the publication's column list or change its type",
                    context: ["table": relation.qualifiedName, "column": column.name])
            }
            do {
                let mapping = try PostgresTypes.mapColumn(column.name, type, policy: policy)
                fields.append(Field(column.name, mapping.type))
            } catch var error as DponeError {
                error.context["table"] = relation.qualifiedName
                throw error
            }
        }
        return Schema(fields)
    }

    /// Appends one row read from `tuple` (which must have one value per relation column).
    ///
    /// - Parameter fallback: values to use where `tuple` has 'u' (the old tuple of an update under
    ///   REPLICA IDENTITY FULL, which carries TOASTed values in full).
    /// - Returns: the fields left as NULL placeholders because their value was unchanged TOAST.
    /// - Throws: `DponeError(.source)` naming the table, column and value; the row is then not appended.
    @discardableResult
    public func append(
        _ tuple: PgOutputTuple, to builder: inout BatchBuilder, fallback: PgOutputTuple? = nil
    ) throws -> UnchangedColumns {
        precondition(builder.columns.count == sources.count, "the batch builder has another schema")
        guard tuple.count == relation.columns.count else {
            throw DponeError(
                .source,
                "a change of \(relation.qualifiedName) has \(tuple.count) values for \(relation.columns.count) columns",
                hint: "the relation message and the change disagree: restart the stream",
                context: ["table": relation.qualifiedName])
        }
        let fallback = fallback.flatMap { $0.count == tuple.count ? $0 : nil }
        let start = builder.rowCount
        var unchanged = UnchangedColumns()
        for (field, source) in sources.enumerated() {
            var value = tuple
            var kind = tuple.kind(at: source)
            if kind == .unchangedToast, let fallback, fallback.kind(at: source) == .text {
                value = fallback
                kind = .text
            }
            switch kind {
            case .null:
                builder.columns[field].appendNull()
            case .unchangedToast:
                builder.columns[field].appendNull()
                unchanged.insert(field)
            case .binary:
                rollback(&builder, to: start)
                throw valueError(field, source, "is in binary format; the stream must use text (binary 'false')", text: nil)
            case .text:
                let ok = value.withValue(at: source) { PostgresText.append($0, to: &builder.columns[field]) } ?? false
                if !ok {
                    let text = value.withValue(at: source) { String(decoding: $0.prefix(64), as: UTF8.self) } ?? ""
                    rollback(&builder, to: start)
                    throw valueError(field, source, "is not a valid \(schema[field].type)", text: text)
                }
            }
        }
        return unchanged
    }

    private func rollback(_ builder: inout BatchBuilder, to rows: Int) {
        for i in builder.columns.indices where builder.columns[i].count > rows { builder.columns[i].truncate(to: rows) }
    }

    private func valueError(_ field: Int, _ source: Int, _ problem: String, text: String?) -> DponeError {
        let column = relation.columns[source]
        var context = ["table": relation.qualifiedName, "column": column.name, "type_oid": String(column.typeOID)]
        var message = "column \"\(column.name)\" of \(relation.qualifiedName): value"
        if let text {
            message += " '\(text)'"
            context["value"] = text
        }
        return DponeError(.source, message + " " + problem, context: context)
    }
}

extension PgOutputRelation {
    /// `"namespace"."name"` (the namespace is omitted when empty: `pg_catalog`).
    public var qualifiedName: String {
        namespace.isEmpty
            ? PostgresSQL.quoteIdentifier(name) : PostgresSQL.qualifiedName(schema: namespace, name: name)
    }
}

/// PostgreSQL's text output of a value, parsed into a column of a logical type.
public enum PostgresText {
    /// Parses `text` (a value's output in PostgreSQL's text format with DateStyle ISO and
    /// bytea_output hex) as `builder.type` and appends it. Returns false, appending nothing, when the
    /// text is not a value of that type.
    public static func append(_ text: UnsafeRawBufferPointer, to builder: inout ColumnBuilder) -> Bool {
        // bytea_output = hex: `\x` then two digits a byte (escape format is refused).
        if builder.type == .bytes, !(text.count >= 2 && text[0] == UInt8(ascii: "\\") && text[1] == UInt8(ascii: "x")) {
            return false
        }
        // timestamptz always carries its zone in the output; timestamp never does.
        return builder.append(text: text, timestampZoneMustMatch: true)
    }
}
