import Flow

/// Selects columns, in the given order, under new names. Types, nullability, values and row
/// operations are unchanged; columns not listed are dropped.
///
/// `outputSchema(for:)` throws `DponeError(.schema)` for a source column the input lacks (naming
/// the available ones) and for two selections with the same target name.
public struct Project: BatchTransform {
    public struct Selection: Sendable, Hashable {
        public var source: String
        public var target: String
        public init(source: String, target: String) {
            self.source = source
            self.target = target
        }
    }

    public let name = "project"
    public let selections: [Selection]

    public init(columns: [(source: String, target: String)]) {
        self.selections = columns.map { Selection(source: $0.source, target: $0.target) }
    }

    /// Keeps `names`, in that order, under their own names.
    public init(keeping names: [String]) {
        self.selections = names.map { Selection(source: $0, target: $0) }
    }

    public func outputSchema(for input: Schema) throws -> Schema {
        var seen: Set<String> = []
        let fields = try selections.map { selection in
            guard let index = input.index(of: selection.source) else {
                throw DponeError(
                    .schema,
                    "project: unknown column '\(selection.source)'; available: \(input.names.joined(separator: ", "))",
                    context: ["column": selection.source]
                )
            }
            guard seen.insert(selection.target).inserted else {
                throw DponeError(
                    .schema, "project: two columns are named '\(selection.target)'", context: ["column": selection.target])
            }
            var field = input[index]
            field.name = selection.target
            return field
        }
        return Schema(fields)
    }

    public func apply(_ batch: Batch) throws -> Batch {
        let schema = try outputSchema(for: batch.schema)
        let columns = selections.map { batch.columns[batch.schema.index(of: $0.source)!] }
        if columns.isEmpty {
            return Batch(schema: schema, columns: [], operations: batch.operations ?? [])
        }
        return Batch(schema: schema, columns: columns, operations: batch.operations)
    }
}
