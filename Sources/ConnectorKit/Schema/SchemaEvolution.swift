import Flow

/// The one rule for an existing target meeting the incoming schema, whatever the sink's types:
/// a source column the target lacks is added; a column the target has must hold every source value
/// exactly, or is widened when the source widened it safely; a business column the source no longer
/// has is kept and NULL from then on (`schema_evolution.drop: keep`, the default) or a breaking
/// change (`drop: fail`). Each dialect renders the changes as its own `ALTER TABLE`. Refusals come
/// before any write. `reshape` applies the same rule to a stream whose shape changes between two
/// batches (an `ALTER TABLE` on a CDC source).
public enum SchemaEvolution {
    /// What an existing target needs before the incoming rows fit.
    public struct Plan: Sendable {
        /// The incoming fields the target lacks, in source order (added as nullable columns).
        public var added: [Field] = []
        /// Columns whose type the source widened safely: the target's column becomes `to`.
        public var widened: [Widening] = []
        /// Business columns the target has and the source no longer sends: kept, NULL from now on
        /// (each dialect makes them nullable).
        public var dropped: [String] = []

        public init() {}

        public var isEmpty: Bool { added.isEmpty && widened.isEmpty && dropped.isEmpty }

        /// For the run result and the log: `region: added string`, `amount: integer -> int64`,
        /// `note: no longer in the source, kept (NULL from now on)`.
        public var changes: [String] {
            added.map { "\($0.name): added \($0.type)" } + widened.map(\.description)
                + dropped.map { "\($0): no longer in the source, kept (NULL from now on)" }
        }
    }

    /// A column widened to hold the source's type (every old value fits the new type).
    public struct Widening: Sendable, Equatable {
        public var column: String
        public var from: String
        public var to: LogicalType

        public init(column: String, from: String, to: LogicalType) {
            self.column = column
            self.from = from
            self.to = to
        }

        /// For the run result and the log: `amount: integer -> int64`.
        public var description: String { "\(column): \(from) -> \(to)" }
    }

    /// Compares `target`'s columns with the incoming schema.
    ///
    /// - Parameters:
    ///   - existing: the target's columns as `(name, type as the target spells it, dialect element)`.
    ///   - widen: `schema_evolution.widen: auto` (default): a column the source widened safely
    ///     (int16 → int32 → int64, float32 → float64, decimal(p,s) → decimal with as many integer and
    ///     fraction digits) is widened; `fail`: that is a breaking change too.
    ///   - canHold: whether a target column stores every value of a source column of that type.
    ///   - logicalType: the logical type of a target column, for the widening rule (nil: never widened).
    /// - Throws: `DponeError(.schema)` before any write, naming the column, for a type the target
    ///   cannot hold and cannot safely widen to (a narrowing, a change of kind such as date →
    ///   timestamp), or the columns the source no longer has (technical `__dpone__` columns excepted).
    public static func plan<Column>(
        target: String, existing: [(name: String, typeName: String, column: Column)], incoming: Schema, widen: Bool = true,
        keepDropped: Bool = true, canHold: (Column, LogicalType) -> Bool, logicalType: (Column) -> LogicalType? = { _ in nil }
    ) throws -> Plan {
        let byName = Dictionary(existing.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var plan = Plan()
        for field in incoming.fields {
            guard let column = byName[field.name] else {
                plan.added.append(field)
                continue
            }
            if canHold(column.column, field.type) { continue }
            let widenable = logicalType(column.column).map { holdsExactly(field.type, $0) } ?? false
            if widen && widenable {
                plan.widened.append(Widening(column: field.name, from: column.typeName, to: field.type))
                continue
            }
            throw DponeError(
                .schema,
                "column \(field.name) is \(column.typeName) in target \(target) but \(field.type) in the source: a breaking type change",
                hint: widenable
                    ? "schema_evolution.widen is fail: set it to auto to widen the column, or migrate it before loading"
                    : "migrate the target column (or cast the source column with a transform) before loading",
                context: ["table": target, "column": field.name])
        }
        let incomingNames = Set(incoming.names)
        let dropped = existing.filter { !incomingNames.contains($0.name) && !TechnicalColumns.isReserved($0.name) }
        try refuseDropped(dropped.map(\.name), target: target, keepDropped: keepDropped)
        plan.dropped = dropped.map(\.name)
        return plan
    }

    private static func refuseDropped(_ dropped: [String], target: String, keepDropped: Bool) throws {
        guard !dropped.isEmpty, !keepDropped else { return }
        throw DponeError(
            .schema,
            "target \(target) has column(s) \(dropped.joined(separator: ", ")) that the source no longer has: a breaking change (schema_evolution.drop is fail)",
            hint: "restore the source column(s), drop them from the target deliberately, or set schema_evolution.drop: keep (they stay, NULL from then on)",
            context: ["table": target])
    }

    /// The staged shape after a batch of shape `incoming` follows batches of shape `staged` in one
    /// stream: `plan.added` are the new columns, `plan.widened` the columns the source widened
    /// (safely; anything else is a breaking change, refused as in `plan`), `plan.dropped` the
    /// columns the incoming shape lacks (kept: later rows hold NULL there, unless `keepDropped` is
    /// false). `schema` is the union: the staged fields (widened types) then the added ones.
    public static func reshape(
        staged: Schema, incoming: Schema, target: String, widen: Bool = true, keepDropped: Bool = true
    ) throws -> (schema: Schema, plan: Plan) {
        var plan = Plan()
        var fields = staged.fields
        for field in incoming.fields {
            guard let i = fields.firstIndex(where: { $0.name == field.name }) else {
                plan.added.append(Field(field.name, field.type, nullable: true))
                continue
            }
            let old = fields[i]
            if old.type == field.type || holdsExactly(old.type, field.type) { continue }
            guard widen, holdsExactly(field.type, old.type) else {
                throw DponeError(
                    .schema,
                    "column \(field.name) of \(target) changed from \(old.type) to \(field.type) in the source: a breaking type change",
                    hint: holdsExactly(field.type, old.type)
                        ? "schema_evolution.widen is fail: set it to auto to widen the column"
                        : "migrate the target column (or cast the source column with a transform), then restart the stream",
                    context: ["table": target, "column": field.name])
            }
            plan.widened.append(Widening(column: field.name, from: "\(old.type)", to: field.type))
            fields[i] = Field(old.name, field.type, nullable: old.nullable)
        }
        let incomingNames = Set(incoming.names)
        let dropped = staged.names.filter { !incomingNames.contains($0) && !TechnicalColumns.isReserved($0) }
        try refuseDropped(dropped, target: target, keepDropped: keepDropped)
        plan.dropped = dropped
        for i in fields.indices where dropped.contains(fields[i].name) {
            fields[i] = Field(fields[i].name, fields[i].type, nullable: true)
        }
        return (Schema(fields + plan.added), plan)
    }

    /// Whether a column of logical type `target` stores every value of `source` exactly: the same
    /// type, or a safe widening (int16 → int32 → int64, float32 → float64, a decimal with as many
    /// integer digits and as many fraction digits, an integer into a decimal with room for it, a
    /// decimal or an integer into numeric, numeric into text).
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
        case (.numeric, .decimal), (.numeric, .int16), (.numeric, .int32), (.numeric, .int64):
            return true  // an exact decimal of any precision
        case (.string, .numeric):
            return true  // its exact text (a target loaded with unbounded_numeric: text keeps working)
        case (.json, .list):
            return true  // its JSON text (a target loaded when arrays were read as json keeps working)
        default:
            return false
        }
    }
}
