import ConnectorKit
import Flow

/// Decides, before any write, what the target must look like for the incoming schema and mode:
/// create it, add new columns (additive evolution), or fail closed on a breaking change. Pure.
public enum ClickHouseTargetShape {
    public struct ExistingColumn: Sendable, Equatable {
        public var name: String
        public var type: ClickHouseType
        public init(name: String, type: ClickHouseType) {
            self.name = name
            self.type = type
        }
    }

    /// Technical columns every target of `mode` carries after the business columns (the staged
    /// `__dpone__row_hash` of `snapshot_diff`/`scd2` is a staged column, not one of these). None is in
    /// the sorting key: mutations can update them.
    public static func technicalColumns(
        for mode: LoadStrategy, support: ClickHouseTypeSupport
    ) -> [(name: String, type: ClickHouseType)] {
        var columns: [(String, ClickHouseType)] = []
        if mode.isReplacing { columns.append((TechnicalColumns.version, .uint64)) }
        if mode == .cdcApply { columns.append((TechnicalColumns.isDeleted, .uint8)) }
        columns.append((TechnicalColumns.checkpoint, .uint64))
        let timestamp = ClickHouseTypes.ddlType(for: .timestamp(withTimeZone: true), nullable: false, support: support)
        switch mode {
        case .snapshotDiff(.softDelete):
            columns.append((TechnicalColumns.deletedAt, .nullable(timestamp)))
        case .scd2:
            columns.append((TechnicalColumns.validFrom, timestamp))
            columns.append((TechnicalColumns.validTo, .nullable(timestamp)))
            columns.append((TechnicalColumns.isCurrent, ClickHouseTypes.ddlType(for: .bool, nullable: false, support: support)))
        default:
            break
        }
        return columns
    }

    /// Columns stored non-Nullable whatever the source says: key columns (sorting keys cannot be
    /// Nullable) and the partition column; NULLs in them are refused in staging with a count.
    static func notNullColumns(mode: LoadStrategy, uniqueKey: [String]) -> Set<String> {
        var names = Set(uniqueKey)
        if case .partitionReplace(let column, _) = mode { names.insert(column) }
        switch mode {
        case .snapshotDiff, .scd2: names.insert(TechnicalColumns.rowHash)
        default: break
        }
        return names
    }

    /// `CREATE TABLE` for a missing target: `MergeTree` (or `ReplacingMergeTree(__dpone__version)` for
    /// `incremental_merge` with the default policy) ordered by the unique key (`tuple()` without one), partitioned by the
    /// partition column for `partition_replace`.
    public static func createStatement(
        target: ClickHouseTableName, incoming: Schema, mode: LoadStrategy, uniqueKey: [String],
        support: ClickHouseTypeSupport
    ) -> String {
        let notNull = notNullColumns(mode: mode, uniqueKey: uniqueKey)
        var columns = incoming.fields.map { f in
            "\(ClickHouseSQL.quoteIdentifier(f.name)) \(ClickHouseTypes.ddlType(for: f.type, nullable: f.nullable && !notNull.contains(f.name), support: support).name)"
        }
        columns += technicalColumns(for: mode, support: support).map { "\(ClickHouseSQL.quoteIdentifier($0.name)) \($0.type.name)" }
        let engine =
            mode.isReplacing
            ? "ReplacingMergeTree(\(ClickHouseSQL.quoteIdentifier(TechnicalColumns.version)))" : "MergeTree"
        var clauses = ["ENGINE = \(engine)"]
        if case .partitionReplace(let column, _) = mode {
            clauses.append("PARTITION BY \(ClickHouseSQL.quoteIdentifier(column))")
        }
        clauses.append("ORDER BY \(uniqueKey.isEmpty ? "tuple()" : "(\(ClickHouseSQL.list(uniqueKey)))")")
        return "CREATE TABLE IF NOT EXISTS \(target.sql) (\(columns.joined(separator: ", "))) \(clauses.joined(separator: " "))"
    }

    /// `ALTER TABLE ADD COLUMN` for incoming columns (and technical columns) the target lacks, and
    /// `MODIFY COLUMN` for columns the source widened safely (with `widen`; `widenings` names them);
    /// throws, before any write, on a column the source no longer has or whose type the target
    /// cannot hold and may not widen.
    public static func evolutionStatements(
        target: ClickHouseTableName, existing: [ExistingColumn], incoming: Schema, mode: LoadStrategy,
        support: ClickHouseTypeSupport, widen: Bool = true
    ) throws -> [String] {
        try evolution(target: target, existing: existing, incoming: incoming, mode: mode, support: support, widen: widen).statements
    }

    public static func evolution(
        target: ClickHouseTableName, existing: [ExistingColumn], incoming: Schema, mode: LoadStrategy,
        support: ClickHouseTypeSupport, widen: Bool = true, keepDropped: Bool = true
    ) throws -> (statements: [String], widenings: [String]) {
        let plan = try SchemaEvolution.plan(
            target: target.description, existing: existing.map { ($0.name, $0.type.name, $0.type) }, incoming: incoming,
            widen: widen, keepDropped: keepDropped, canHold: { canHold($0, $1, support: support) }, logicalType: numericLogicalType)
        var statements = plan.added.map { field in
            "ALTER TABLE \(target.sql) ADD COLUMN \(ClickHouseSQL.quoteIdentifier(field.name)) \(ClickHouseTypes.ddlType(for: field.type, nullable: true, support: support).name)"
        }
        let nullable = Dictionary(existing.map { ($0.name, $0.type.isNullable) }, uniquingKeysWith: { a, _ in a })
        for w in plan.widened {
            let type = ClickHouseTypes.ddlType(for: w.to, nullable: nullable[w.column] ?? true, support: support)
            statements.append("ALTER TABLE \(target.sql) MODIFY COLUMN \(ClickHouseSQL.quoteIdentifier(w.column)) \(type.name)")
        }
        statements += nullableStatements(for: plan.dropped, existing: existing, target: target)
        let byName = Set(existing.map(\.name))
        for column in technicalColumns(for: mode, support: support) where !byName.contains(column.name) {
            if column.name == TechnicalColumns.version {
                throw DponeError(
                    .schema, "\(mode.name) needs target \(target) to be a ReplacingMergeTree(\(column.name)) it created",
                    hint: "load into a new table, recreate the target with that engine, or set merge_policy: mutation_delete_insert (or shadow_swap), which work on a plain MergeTree",
                    context: ["table": target.description])
            }
            statements.append(
                "ALTER TABLE \(target.sql) ADD COLUMN \(ClickHouseSQL.quoteIdentifier(column.name)) \(column.type.name)")
        }
        return (statements, plan.widened.map { "\(target).\($0.description)" } + plan.dropped.map { keptChange($0, target) })
    }

    /// `MODIFY COLUMN c Nullable(T)` for each of `columns` stored non-Nullable (an omitted column
    /// would otherwise get T's default, not NULL).
    static func nullableStatements(for columns: [String], existing: [ExistingColumn], target: ClickHouseTableName) -> [String] {
        existing.filter { columns.contains($0.name) && !$0.type.isNullable }.compactMap { column in
            if case .array = column.type.base { return nil }  // arrays cannot be Nullable: an omitted one is []
            return "ALTER TABLE \(target.sql) MODIFY COLUMN \(ClickHouseSQL.quoteIdentifier(column.name)) Nullable(\(column.type.withoutLowCardinality.name))"
        }
    }

    static func keptChange(_ column: String, _ target: ClickHouseTableName) -> String {
        "\(target).\(column): no longer in the source, kept (NULL from now on)"
    }

    /// The logical type of a numeric column (the ones a source can widen), nil for the others.
    static func numericLogicalType(_ type: ClickHouseType) -> LogicalType? {
        guard let logical = try? ClickHouseTypes.logicalType(of: type.withoutLowCardinality.base, column: "") else { return nil }
        switch logical {
        case .int16, .int32, .int64, .float32, .float64, .decimal: return logical
        default: return nil
        }
    }

    /// Whether a target column of `type` stores every value of a source column of `source` exactly.
    public static func canHold(_ type: ClickHouseType, _ source: LogicalType, support: ClickHouseTypeSupport) -> Bool {
        let base = type.withoutLowCardinality.base
        if base == ClickHouseTypes.ddlType(for: source, nullable: false, support: support) { return true }
        switch (base, source) {
        case (.string, .string), (.string, .json), (.fixedString, .string), (.enum8, .string), (.enum16, .string):
            return true
        case (.date32, .date), (.dateTime64, .timestamp), (.uint8, .bool):
            return true
        case (.string, .numeric):  // the exact text (a target created by 18.16, or by unbounded_numeric: text)
            return true
        case (.string, .list):  // the JSON text (a target created when arrays were read as json)
            return true
        case (.decimal(let p, _), .numeric) where p > LogicalType.maxDecimalPrecision:
            return true  // each value is checked as it is written: more digits than the column has is an error naming it
        case (.decimal(let p, let s), .decimal(let sp, let ss)) where p > LogicalType.maxDecimalPrecision:
            return ss <= s && sp - ss <= p - s
        default:
            // Integers, floats and decimals widen as everywhere else (other types only by the
            // exact DDL match above: a DateTime cannot hold a microsecond timestamp).
            return numericLogicalType(base).map { SchemaEvolution.holdsExactly($0, source) } ?? false
        }
    }

    /// The staging column types for the incoming fields: the target's types (so values are checked
    /// and converted while staging), made Nullable where the source is nullable so NULL keys reach the
    /// key check as a count instead of failing the upload.
    public static func stagingTypes(incoming: Schema, existing: [ExistingColumn]) -> [ClickHouseType] {
        let byName = Dictionary(existing.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        return incoming.fields.map { field in
            let type = byName[field.name] ?? .string
            if case .array = type.base { return type }  // no Nullable arrays: a NULL list is staged as []
            if field.nullable && !type.isNullable {
                if case .lowCardinality(let inner) = type { return .lowCardinality(.nullable(inner)) }
                return .nullable(type)
            }
            return type
        }
    }
}
