import Flow

/// Keeps the rows that satisfy a predicate, in order, with their operations; the schema is unchanged.
///
/// `outputSchema(for:)` throws `DponeError(.schema)` for an unknown column or a literal that cannot
/// be compared with its column (see `PredicateOperand`).
public struct Filter: BatchTransform {
    public let name = "filter"
    public let predicate: Predicate

    public init(_ predicate: Predicate) {
        self.predicate = predicate
    }

    /// Parses `text` with `Predicate.parse(_:)`.
    public init(parsing text: String) throws {
        self.predicate = try Predicate.parse(text)
    }

    public func outputSchema(for input: Schema) throws -> Schema {
        try predicate.validate(against: input)
        return input
    }

    public func apply(_ batch: Batch) throws -> Batch {
        let rows = try predicate.selectedRows(in: batch)
        if rows.count == batch.rowCount { return batch }
        return batch.gather(rows: rows)
    }
}
