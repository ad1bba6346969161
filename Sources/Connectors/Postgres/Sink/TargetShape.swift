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

    /// `ALTER TABLE ADD COLUMN` for incoming columns the target lacks; throws, before any write, on a
    /// column the source no longer has or whose type the target cannot hold.
    public static func evolutionStatements(
        target: TableName, existing: [ExistingColumn], incoming: Schema, mode: LoadStrategy
    ) throws -> [String] {
        let added = try SchemaEvolution.addedFields(
            target: target.description, existing: existing.map { ($0.name, "\($0.type)", $0.type) }, incoming: incoming,
            canHold: canHold)
        let existingNames = Set(existing.map(\.name))
        let missingTechnical = technicalColumns(for: mode).filter { !existingNames.contains($0.name) }
        return (added + missingTechnical).map { field in
            "ALTER TABLE \(target.sql) ADD COLUMN \(PostgresSQL.quoteIdentifier(field.name)) \(PostgresTypes.ddlType(for: field.type))"
        }
    }

    /// Whether a target column of type `target` stores every value of `source` exactly.
    public static func canHold(_ target: LogicalType, _ source: LogicalType) -> Bool {
        SchemaEvolution.holdsExactly(target, source)
    }
}
