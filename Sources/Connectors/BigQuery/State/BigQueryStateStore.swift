import Flow
import Foundation

/// `state.type: bigquery`: checkpoint state in a BigQuery table (`__dpone__state` in the sink's
/// dataset by default), one row per pipeline.
///
/// Contract (the `StateStore` one, plus):
/// - `commit` is one transaction (a multi-statement script): the row is replaced only when the stored
///   checkpoint is lower (or missing). A stored checkpoint ahead, or the same checkpoint with another
///   document, is refused naming both; the identical document (a replayed commit) is a no-op.
/// - The dataset and table are created on the first `commit`; `load` and `reset` of a missing table
///   read as "no state" and do nothing.
/// - With `state.atomicity: target_atomic` the BigQuery sink writes the same row inside its publish
///   script (`BigQueryLedger.writeState`), and the coordinator writes nothing.
public final class BigQueryStateStore: StateStore {
    public let table: BigQueryTable
    let client: BigQueryClient

    public init(table: BigQueryTable, client: BigQueryClient) {
        self.table = table
        self.client = client
    }

    public func location(pipeline: String) -> String { "bigquery \(table.project).\(table) (\(pipeline))" }

    public func load(pipeline: String) async throws -> PipelineState? {
        guard try await client.columns(of: table) != nil else { return nil }
        let rows = try await run("load the state from", pipeline) {
            try await self.client.query(BigQueryLedger.readState(self.table, pipeline: pipeline), what: "reading the state \(self.table)").rows
        }
        guard let row = rows.first, let checkpoint = row[0], let document = row[1] else { return nil }
        return try BigQueryStateDocument.decode(checkpoint: checkpoint, document: document, pipeline: pipeline, location: location(pipeline: pipeline))
    }

    public func commit(_ state: PipelineState) async throws {
        let document = try BigQueryStateDocument.encode(state)
        try await run("commit the state to", state.pipeline) {
            try await self.client.ensureDataset(self.table.dataset)
            try await self.client.query(BigQueryLedger.stateDDL(self.table), what: "creating the state table \(self.table)")
            let script = (["BEGIN TRANSACTION"]
                + BigQueryLedger.writeState(self.table, pipeline: state.pipeline, checkpoint: state.checkpoint.rawValue, document: document)
                + ["COMMIT TRANSACTION", BigQueryLedger.readState(self.table, pipeline: state.pipeline)]).map { $0 + ";" }.joined(separator: "\n")
            let stored = try await self.client.query(script, what: "committing the state \(self.table)").rows.first
            guard let stored, stored[0] == state.checkpoint.description else {
                throw DponeError(
                    .state,
                    "refusing to move the state of pipeline '\(state.pipeline)' to checkpoint \(state.checkpoint): its stored checkpoint \(stored?[0].flatMap { $0 } ?? "?") is ahead",
                    hint: "another run of this pipeline committed state meanwhile; inspect it with `dpone state show`",
                    context: ["pipeline": state.pipeline, "table": self.table.description])
            }
            guard stored[1] == document else {
                throw DponeError(
                    .state, "checkpoint \(state.checkpoint) of pipeline '\(state.pipeline)' is already committed with a different document",
                    hint: "inspect it with `dpone state show`", context: ["pipeline": state.pipeline, "table": self.table.description])
            }
        }
    }

    public func reset(pipeline: String) async throws {
        guard try await client.columns(of: table) != nil else { return }
        try await run("reset the state in", pipeline) {
            try await self.client.query(
                "DELETE FROM \(self.table.sql) WHERE `pipeline` = \(BigQuerySQL.literal(pipeline))", what: "resetting the state \(self.table)")
        }
    }

    /// `body`, with every error a `DponeError(.state)` naming the location.
    private func run<T: Sendable>(_ action: String, _ pipeline: String, _ body: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DponeError where error.kind == .state {
            throw error
        } catch let error as DponeError {
            throw DponeError(.state, "cannot \(action) \(location(pipeline: pipeline)): \(error.message)", hint: error.hint, context: error.context)
        }
    }
}

/// The state row's document: a `PipelineState` as JSON with sorted keys, so a replayed commit
/// writes the same text.
enum BigQueryStateDocument {
    static func encode(_ state: PipelineState) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(state), as: UTF8.self)
    }

    static func encode(_ context: CheckpointContext) throws -> String {
        try encode(
            PipelineState(
                pipeline: context.pipeline, checkpoint: context.id, source: context.positions, loadID: context.loadID, runID: context.runID,
                committedAt: Timestamps.iso8601()))
    }

    static func decode(checkpoint: String, document: String, pipeline: String, location: String) throws -> PipelineState {
        try PipelineState.decodeStored(checkpoint: checkpoint, document: document, pipeline: pipeline, location: location)
    }
}
