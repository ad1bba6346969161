/// The change a row carries in a CDC batch.
public enum RowOperation: UInt8, Sendable, Codable {
    case insert = 0
    case update = 1
    case delete = 2
    case upsert = 3
    /// The source table was truncated here (`on_truncate: truncate_target`): the target loses every
    /// row written before it, the changes after it apply. Always the only row of its batch, its
    /// columns NULL.
    case truncate = 4
}

/// An immutable, column-major set of rows: the unit that flows over channels.
///
/// Target size is ~64k rows or a few MB. `byteCount` is computed once at construction.
public struct Batch: Sendable {
    public let schema: Schema
    public let columns: [Column]
    public let rowCount: Int
    /// Per-row operation for CDC batches; nil for plain loads (every row an insert).
    public let operations: [RowOperation]?
    public let byteCount: Int

    /// - Precondition: one column per field, each with `rowCount` values of the field's type.
    public init(schema: Schema, columns: [Column], operations: [RowOperation]? = nil) {
        precondition(schema.count == columns.count, "a batch has one column per schema field")
        let rows = columns.first?.count ?? operations?.count ?? 0
        for (field, column) in zip(schema.fields, columns) {
            precondition(column.count == rows, "column \(field.name) has \(column.count) rows, expected \(rows)")
            precondition(column.type == field.type, "column \(field.name) is \(column.type), field says \(field.type)")
        }
        if let operations { precondition(operations.count == rows) }
        self.schema = schema
        self.columns = columns
        self.rowCount = rows
        self.operations = operations
        self.byteCount = columns.reduce(0) { $0 + $1.byteCount } + (operations?.count ?? 0)
    }

    public static func empty(_ schema: Schema) -> Batch {
        var builder = BatchBuilder(schema: schema)
        return builder.finish()
    }

    public func column(named name: String) -> Column? {
        schema.index(of: name).map { columns[$0] }
    }

    /// Row `i` as scalars (tests and diagnostics only).
    public func row(_ i: Int) -> [Value] { columns.map { $0.value(at: i) } }
}

/// Builds batches column by column; sources write into `columns[i]` directly.
public struct BatchBuilder: Sendable {
    public let schema: Schema
    public var columns: [ColumnBuilder]
    private let capacity: Int

    public init(schema: Schema, reservingCapacity capacity: Int = 0) {
        self.schema = schema
        self.capacity = capacity
        self.columns = schema.fields.map { ColumnBuilder(type: $0.type, reservingCapacity: capacity) }
    }

    public var rowCount: Int { columns.first?.count ?? 0 }
    public var byteCount: Int { columns.reduce(0) { $0 + $1.byteCount } }

    /// Appends one row of scalars; returns the index of the first column that rejected its value.
    @discardableResult
    public mutating func append(row: [Value]) -> Int? {
        precondition(row.count == columns.count)
        for i in columns.indices where !columns[i].append(value: row[i]) { return i }
        return nil
    }

    public mutating func finish(operations: [RowOperation]? = nil) -> Batch {
        let cols = columns.indices.map { columns[$0].finish(reservingCapacity: capacity) }
        return Batch(schema: schema, columns: cols, operations: operations)
    }
}
