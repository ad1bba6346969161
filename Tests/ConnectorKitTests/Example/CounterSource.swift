import Flow

/// The "Writing a connector" guide's source: the integers 1...`upTo`, in batches, resuming after the
/// last number the durable state holds. A first run reads everything (a complete checkpoint); a
/// resumed run reads only the numbers after the stored one (a partial checkpoint).
struct CounterSource: SourceOperator {
    let name = "counter"
    let upTo: Int64
    let batchRows: Int

    static let schema = Schema([Field("n", .int64, nullable: false), Field("label", .string)])

    func outputSchema() async throws -> Schema { Self.schema }

    func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        // The positions this source stores are {"last": n}.
        let stored = resumeFrom?["last"]?.intValue
        var next = (stored ?? 0) + 1
        while next <= upTo {
            try Task.checkCancellation()
            var builder = BatchBuilder(schema: Self.schema, reservingCapacity: batchRows)
            while next <= upTo && builder.rowCount < batchRows {
                builder.columns[0].append(next)
                builder.columns[1].append(string: "n\(next)")
                next += 1
            }
            // `send` suspends while the channel is full: backpressure keeps memory flat.
            try await output.send(builder.finish())
        }
        // A bounded source ends with one checkpoint; it is complete when nothing was skipped.
        try await output.checkpoint(positions: .object(["last": .int(upTo)]), complete: stored == nil)
    }

    /// Called only after the state of `checkpoint` is durable: nothing upstream to release here.
    func acknowledge(_ checkpoint: CheckpointID) async throws {}
}
