import Flow

/// The validated pairing of a batch schema with target ClickHouse column types, shared by the Native
/// and RowBinary encoders.
struct ClickHouseEncodingPlan: Sendable {
    let schema: Schema
    let targetTypes: [ClickHouseType]
    let support: ClickHouseTypeSupport

    /// - Throws: `DponeError(.schema)` naming the first column whose Flow type cannot be written as its
    ///   target type (see `ClickHouseValueWriter`), or when the counts differ.
    init(schema: Schema, targetTypes: [ClickHouseType], support: ClickHouseTypeSupport) throws {
        guard schema.count == targetTypes.count else {
            throw DponeError(.schema, "ClickHouse encoder has \(targetTypes.count) target types for \(schema.count) columns")
        }
        for (field, target) in zip(schema.fields, targetTypes) {
            if case .array = target.base {
                throw DponeError(
                    .schema, "column \"\(field.name)\": writing into \(target.name) is not supported; use a String column",
                    context: ["column": field.name])
            }
            // An empty column of the field's type exercises the same factory the batches will.
            var empty = ColumnBuilder(type: field.type)
            _ = try ClickHouseValueWriter(column: empty.finish(), name: field.name, target: target.base, support: support)
        }
        self.schema = schema
        self.targetTypes = targetTypes
        self.support = support
    }

    /// One writer per column of `batch`, with whether its target is Nullable.
    /// - Throws: `DponeError(.sink)` when a column holds NULLs but its target is not Nullable.
    func writers(for batch: Batch) throws -> [(writer: ClickHouseValueWriter, nullable: Bool)] {
        precondition(
            batch.schema.fields.map(\.type) == schema.fields.map(\.type),
            "the batch's column types must be the encoder's")
        return try batch.columns.indices.map { k in
            let column = batch.columns[k]
            let target = targetTypes[k]
            let name = schema[k].name
            if !target.isNullable && column.validity != nil {
                throw DponeError(
                    .sink, "column \"\(name)\" holds NULL but its ClickHouse type \(target.name) is not Nullable",
                    context: ["column": name])
            }
            return (try ClickHouseValueWriter(column: column, name: name, target: target.base, support: support), target.isNullable)
        }
    }
}
