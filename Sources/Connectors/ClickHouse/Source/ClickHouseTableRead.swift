import Flow

/// The decoding half of one `ClickHouseSource.run`, driven on the client's thread.
///
/// `consume` is the `streamQuery` chunk callback: it polls `cancel`, decodes the chunk with a
/// `NativeDecoder`, checks the stream's columns against the plan (once), advances the cursor, drops
/// the hidden cursor column, re-cuts blocks with a `ClickHouseBatchCutter` and hands full batches to
/// `sendBlocking` (blocking the client's thread, and thereby the server, while the channel is full).
/// `finish` decodes what is left, sends the last batch and returns the run's positions.
///
/// Every method runs on the client's thread, one at a time (hence `@unchecked Sendable`).
final class ClickHouseTableRead: @unchecked Sendable {
    private let plan: ClickHouseSourcePlan
    private let output: any SourceOutput
    private let cancel: CancellationFlag
    private var decoder: NativeDecoder
    private var cutter: ClickHouseBatchCutter
    private var cursor: ClickHouseCursor?
    private let outputSchema: Schema
    private var checkedSchema = false
    private(set) var rowsSent = 0
    private(set) var batchesSent = 0

    init(
        plan: ClickHouseSourcePlan, cursor: ClickHouseCursor?, policy: ClickHouseTypePolicy, batchRows: Int,
        batchBytes: Int, output: any SourceOutput, cancel: CancellationFlag
    ) {
        self.plan = plan
        self.cursor = cursor
        self.output = output
        self.cancel = cancel
        self.decoder = NativeDecoder(policy: policy)
        self.outputSchema = plan.outputSchema
        self.cutter = ClickHouseBatchCutter(schema: plan.outputSchema, batchRows: batchRows, batchBytes: batchBytes)
    }

    private var what: String { "reading \(plan.table)" }

    /// One chunk of the Native response.
    func consume(_ chunk: UnsafeRawBufferPointer) throws {
        try cancel.check(what)
        for batch in try decoder.decode(chunk) { try handle(batch) }
    }

    /// After the response ended: the last rows, then the positions for the final checkpoint.
    func finish() throws -> StateValue {
        try cancel.check(what)
        for batch in try decoder.finish() { try handle(batch) }
        try cutter.flush(emit: send)
        try cancel.check(what)
        if let cursor { return cursor.positions }
        return .object(["table": .string(plan.table), "rows": .int(Int64(rowsSent))])
    }

    private func handle(_ batch: Batch) throws {
        if !checkedSchema {
            let expected = plan.readSchema
            guard batch.schema == expected else {
                throw DponeError(
                    .source,
                    "the columns of \(plan.table) changed while it was read: described as \(Self.describe(expected)), the result has \(Self.describe(batch.schema))",
                    hint: "run again", context: ["table": plan.table])
            }
            checkedSchema = true
        }
        if let index = cursor?.index { cursor!.observe(batch.columns[index]) }
        let visible =
            plan.hasHiddenColumns
            ? Batch(schema: outputSchema, columns: Array(batch.columns.prefix(plan.outputCount))) : batch
        try cutter.add(visible, emit: send)
    }

    private func send(_ batch: Batch) throws {
        try cancel.check(what)
        rowsSent += batch.rowCount
        batchesSent += 1
        try output.sendBlocking(batch)
    }

    private static func describe(_ schema: Schema) -> String {
        schema.fields.map { "\($0.name) \($0.type)\($0.nullable ? "?" : "")" }.joined(separator: ", ")
    }
}
