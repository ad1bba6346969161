import Flow

/// `state.atomicity: target_atomic`: the Postgres sink writes the state row inside its own finalize
/// transaction (`PostgresStateStore.ensureTableStatements` + `writeState` / `upsertStatement`), so
/// data and state commit together: exactly once.
///
/// Contract:
/// - `commit` never writes. It verifies that the pipeline's row already holds `state.checkpoint`
///   (the sink committed it) and throws `DponeError(.state)` when the row is missing or holds another
///   checkpoint: the sink did not write the state, and the run must fail rather than carry on with
///   state that is not durable. The document's other fields (e.g. `committed_at`) may differ from
///   `state`: the sink wrote its own copy in its transaction.
/// - `load`, `reset` and `location` are those of the wrapped `PostgresStateStore`.
public struct TargetAtomicStateStore: StateStore {
    public let store: PostgresStateStore

    public init(store: PostgresStateStore) {
        self.store = store
    }

    public func location(pipeline: String) -> String { store.location(pipeline: pipeline) }

    public func load(pipeline: String) async throws -> PipelineState? { try await store.load(pipeline: pipeline) }

    public func reset(pipeline: String) async throws { try await store.reset(pipeline: pipeline) }

    public func commit(_ state: PipelineState) async throws {
        let stored = try await store.load(pipeline: state.pipeline)
        guard stored?.checkpoint != state.checkpoint else { return }
        let found = stored.map { "holds checkpoint \($0.checkpoint)" } ?? "has no row"
        throw DponeError(
            .state,
            "target-atomic state of pipeline '\(state.pipeline)' for checkpoint \(state.checkpoint) is missing: "
                + "\(location(pipeline: state.pipeline)) \(found)",
            hint: "with `state.atomicity: target_atomic` the Postgres sink must write the state row in its "
                + "finalize transaction",
            context: [
                "pipeline": state.pipeline, "checkpoint": state.checkpoint.description,
                "state": location(pipeline: state.pipeline),
            ])
    }
}
