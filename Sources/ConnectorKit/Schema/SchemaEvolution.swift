import Flow

/// The one rule for an existing target meeting the incoming schema, whatever the sink's types:
/// a source column the target lacks is added; a column the target has must hold every source value
/// exactly; a business column the source no longer has is a breaking change. Each dialect renders
/// the additions as its own `ALTER TABLE`. Refusals come before any write.
public enum SchemaEvolution {
    /// The incoming fields `target` lacks, in source order.
    ///
    /// - Parameters:
    ///   - existing: the target's columns as `(name, type as the target spells it)`, with the
    ///     dialect's element for `canHold`.
    ///   - canHold: whether a target column stores every value of a source column of that type.
    /// - Throws: `DponeError(.schema)` naming the column for a type the target cannot hold, or the
    ///   columns the source no longer has (technical `__dpone__` columns excepted).
    public static func addedFields<Column>(
        target: String, existing: [(name: String, typeName: String, column: Column)], incoming: Schema,
        canHold: (Column, LogicalType) -> Bool
    ) throws -> [Field] {
        let byName = Dictionary(existing.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var added: [Field] = []
        for field in incoming.fields {
            guard let column = byName[field.name] else {
                added.append(field)
                continue
            }
            guard canHold(column.column, field.type) else {
                throw DponeError(
                    .schema,
                    "column \(field.name) is \(column.typeName) in target \(target) but \(field.type) in the source: a breaking type change",
                    hint: "migrate the target column (or cast the source column with a transform) before loading",
                    context: ["table": target, "column": field.name])
            }
        }
        let incomingNames = Set(incoming.names)
        let dropped = existing.filter { !incomingNames.contains($0.name) && !TechnicalColumns.isReserved($0.name) }
        if !dropped.isEmpty {
            throw DponeError(
                .schema,
                "target \(target) has column(s) \(dropped.map(\.name).joined(separator: ", ")) that the source no longer has: a breaking change",
                hint: "restore the source column(s), or drop them from the target deliberately before loading",
                context: ["table": target])
        }
        return added
    }

    /// Whether a column of logical type `target` stores every value of `source` exactly: the same
    /// type, or a safe widening (int16 → int32 → int64, float32 → float64, a decimal with as many
    /// integer digits and as many fraction digits, an integer into a decimal with room for it).
    public static func holdsExactly(_ target: LogicalType, _ source: LogicalType) -> Bool {
        if target == source { return true }
        switch (target, source) {
        case (.int32, .int16), (.int64, .int16), (.int64, .int32), (.float64, .float32):
            return true
        case (.decimal(let tp, let ts), .decimal(let sp, let ss)):
            return ts >= ss && tp - ts >= sp - ss
        case (.decimal(let tp, let ts), .int16): return tp - ts >= 5
        case (.decimal(let tp, let ts), .int32): return tp - ts >= 10
        case (.decimal(let tp, let ts), .int64): return tp - ts >= 19
        default:
            return false
        }
    }
}
