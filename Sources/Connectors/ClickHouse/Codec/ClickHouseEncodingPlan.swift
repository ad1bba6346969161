import Flow
import Formats

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
            if case .array(let element) = target.base {
                guard case .list(let elementType) = field.type else {
                    throw DponeError(
                        .schema,
                        "column \"\(field.name)\": writing \(field.type) into \(target.name) is not supported; use a String column",
                        context: ["column": field.name])
                }
                var empty = ColumnBuilder(type: elementType)
                _ = try ClickHouseValueWriter(column: empty.finish(), name: field.name, target: element.base, support: support)
                continue
            }
            // An empty column of the field's type exercises the same factory the batches will.
            var empty = ColumnBuilder(type: field.type)
            _ = try ClickHouseValueWriter(column: empty.finish(), name: field.name, target: target.base, support: support)
        }
        self.schema = schema
        self.targetTypes = targetTypes
        self.support = support
    }

    /// How one column of a batch is written.
    enum ColumnWriter {
        /// Values of a scalar type, with whether the target is Nullable.
        case scalar(ClickHouseValueWriter, nullable: Bool)
        /// An `Array(T)` target: the batch's list elements flattened (`ListText`), row `i` holding
        /// `elements[offsets[i]..<offsets[i + 1]]` (a NULL list has none: ClickHouse has no
        /// Nullable arrays), written by `element`, Nullable when T is.
        case array(elements: Column, offsets: [Int], element: ClickHouseValueWriter, elementNullable: Bool)
    }

    /// One writer per column of `batch`.
    /// - Throws: `DponeError(.sink)` when a column holds NULLs but its target is not Nullable.
    func writers(for batch: Batch) throws -> [ColumnWriter] {
        precondition(
            batch.schema.fields.map(\.type) == schema.fields.map(\.type),
            "the batch's column types must be the encoder's")
        return try batch.columns.indices.map { k in
            let column = batch.columns[k]
            let target = targetTypes[k]
            let name = schema[k].name
            if case .array(let element) = target.base {
                let (elements, offsets) = try ListText.flatten(column, name: name)
                if !element.isNullable && elements.validity != nil {
                    throw DponeError(
                        .sink, "column \"\(name)\" has NULL elements but its ClickHouse type \(target.name) does not allow them",
                        context: ["column": name])
                }
                let writer = try ClickHouseValueWriter(column: elements, name: name, target: element.base, support: support)
                return .array(elements: elements, offsets: offsets, element: writer, elementNullable: element.isNullable)
            }
            if !target.isNullable && column.validity != nil {
                throw DponeError(
                    .sink, "column \"\(name)\" holds NULL but its ClickHouse type \(target.name) is not Nullable",
                    context: ["column": name])
            }
            return .scalar(
                try ClickHouseValueWriter(column: column, name: name, target: target.base, support: support),
                nullable: target.isNullable)
        }
    }
}
