import ConnectorKit
import Flow

/// Decides, before any write, what the target must look like for the incoming schema and mode:
/// create it, add new columns (additive evolution), or fail closed on a breaking change.
public enum TargetShape {
    public struct ExistingColumn: Sendable, Equatable {
        public var name: String
        public var type: LogicalType
        public var nullable: Bool
        public init(name: String, type: LogicalType, nullable: Bool) {
            self.name = name
            self.type = type
            self.nullable = nullable
        }
    }

    /// Technical columns the mode keeps in the target beyond the staged ones.
    public static func technicalColumns(for mode: LoadStrategy) -> [Field] {
        switch mode {
        case .snapshotDiff(.softDelete):
            [Field(TechnicalColumns.deletedAt, .timestamp(withTimeZone: true))]
        case .scd2:
            [
                Field(TechnicalColumns.validFrom, .timestamp(withTimeZone: true), nullable: false),
                Field(TechnicalColumns.validTo, .timestamp(withTimeZone: true)),
                Field(TechnicalColumns.isCurrent, .bool, nullable: false),
            ]
        default:
            []
        }
    }

    /// Columns the staging table must carry for the mode (checked before staging).
    public static func requiredStagedColumns(for mode: LoadStrategy) -> [String] {
        switch mode {
        case .snapshotDiff, .scd2: [TechnicalColumns.rowHash]
        case .cdcApply: [TechnicalColumns.lsn, TechnicalColumns.unchanged]
        default: []
        }
    }

    /// `CREATE TABLE` for a missing target: faithful types, NOT NULL where the source says so and on
    /// key columns, a primary key on the unique key for key-matched modes (an index for scd2, whose
    /// history repeats keys).
    public static func createStatements(
        target: TableName, incoming: Schema, mode: LoadStrategy, uniqueKey: [String]
    ) -> [String] {
        let fields = incoming.fields + technicalColumns(for: mode)
        let columns = fields.map { f in
            let notNull = !f.nullable || uniqueKey.contains(f.name)
            return "\(PostgresSQL.quoteIdentifier(f.name)) \(PostgresTypes.ddlType(for: f.type))\(notNull ? " NOT NULL" : "")"
        }
        var constraints: [String] = []
        let keyList = uniqueKey.map(PostgresSQL.quoteIdentifier).joined(separator: ", ")
        var after: [String] = []
        switch mode {
        case .incrementalMerge, .snapshotDiff, .incrementalAppend(onlyNewRows: true), .cdcApply:
            if !uniqueKey.isEmpty { constraints.append("PRIMARY KEY (\(keyList))") }
        case .scd2:
            if !uniqueKey.isEmpty {
                let index = TableName.derived("\(target.name)__dpone_current_key")
                after.append(
                    "CREATE UNIQUE INDEX \(PostgresSQL.quoteIdentifier(index)) ON \(target.sql) (\(keyList)) WHERE \(PostgresSQL.quoteIdentifier(TechnicalColumns.isCurrent))"
                )
            }
        default:
            break
        }
        let body = (columns + constraints).joined(separator: ",\n  ")
        return ["CREATE TABLE \(target.sql) (\n  \(body)\n)"] + after
    }

    /// What an existing target needs: `statements` (ADD COLUMN for incoming and technical columns it
    /// lacks) run before staging; `widenings` (ALTER COLUMN ... TYPE for columns the source widened
    /// safely, DROP NOT NULL for kept columns the source no longer has) run inside the publish
    /// transaction, so they commit with the rows that need them. Throws, before any write, on a
    /// column whose type the target cannot hold and may not widen, or one the source no longer has
    /// when `keepDropped` is false.
    public static func evolution(
        target: TableName, existing: [ExistingColumn], incoming: Schema, mode: LoadStrategy, widen: Bool = true,
        keepDropped: Bool = true
    ) throws -> (statements: [String], widenings: [(change: String, sql: String)]) {
        let plan = try SchemaEvolution.plan(
            target: target.description, existing: existing.map { ($0.name, "\($0.type)", $0.type) }, incoming: incoming,
            widen: widen, keepDropped: keepDropped, canHold: canHold, logicalType: { $0 })
        let existingNames = Set(existing.map(\.name))
        let missingTechnical = technicalColumns(for: mode).filter { !existingNames.contains($0.name) }
        let statements = (plan.added + missingTechnical).map { field in
            "ALTER TABLE \(target.sql) ADD COLUMN \(PostgresSQL.quoteIdentifier(field.name)) \(PostgresTypes.ddlType(for: field.type))"
        }
        var widenings = plan.widened.map { w in
            (
                "\(target).\(w.description)",
                "ALTER TABLE \(target.sql) ALTER COLUMN \(PostgresSQL.quoteIdentifier(w.column)) TYPE \(PostgresTypes.ddlType(for: w.to))"
            )
        }
        let notNull = Set(existing.filter { !$0.nullable }.map(\.name))
        widenings += keptColumns(plan.dropped, of: target, notNull: notNull)
        return (statements, widenings)
    }

    /// The changes for columns the source no longer has: reported, and made nullable when they are
    /// NOT NULL (an empty statement otherwise).
    static func keptColumns(_ dropped: [String], of target: TableName, notNull: Set<String>) -> [(change: String, sql: String)] {
        dropped.map { column in
            (
                "\(target).\(column): no longer in the source, kept (NULL from now on)",
                notNull.contains(column)
                    ? "ALTER TABLE \(target.sql) ALTER COLUMN \(PostgresSQL.quoteIdentifier(column)) DROP NOT NULL" : ""
            )
        }
    }

    /// Whether a target column of type `target` stores every value of `source` exactly.
    public static func canHold(_ target: LogicalType, _ source: LogicalType) -> Bool {
        SchemaEvolution.holdsExactly(target, source)
    }
}
