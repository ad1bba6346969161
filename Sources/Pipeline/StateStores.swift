import Foundation
import Flow
import Manifest
import PostgresConnector

/// Picks the state store a manifest asks for.
public enum StateStores {
    /// The directory of the file store: `--state-dir`, else the manifest's `state.dir`, else `.dpone/state`.
    public static func directory(for document: ManifestDocument, override: String?) -> String {
        override ?? document.state.directory ?? StateConfig.defaultDirectory
    }

    public static func make(for document: ManifestDocument, override: String?) -> any StateStore {
        switch document.state.type {
        case .file:
            return FileStateStore(directory: directory(for: document, override: override))
        case .disabled:
            return DisabledStateStore()
        case .postgres:
            guard let connection = document.state.connection else { return UnavailableStateStore(type: "postgres") }
            let store = PostgresStateStore(url: connection.resolved.url, table: postgresTable(document))
            return document.state.atomicity == .targetAtomic ? TargetAtomicStateStore(store: store) : store
        }
    }

    /// The checkpoint a run resumes after. Without state (`state: {type: disabled}`) every run is a
    /// new load that nothing replays, yet sinks' ledgers remember published checkpoints per pipeline:
    /// numbering from 1 each time would make the second run look like a replay of the first and
    /// publish nothing. Such runs number from the start time in milliseconds instead: unique and
    /// increasing across runs.
    public static func resumePoint(store: any StateStore, previous: PipelineState?, now: Date = Date()) -> CheckpointID {
        if store is DisabledStateStore { return CheckpointID(UInt64(max(0, now.timeIntervalSince1970 * 1000))) }
        return previous?.checkpoint ?? CheckpointID(0)
    }

    /// Forgets the source positions so the next run reads from scratch, but keeps the checkpoint
    /// number: checkpoint ids never repeat for a pipeline, so a sink's ledger (or a files sink's part
    /// names) can never mistake a new load for a replay of an old one.
    public static func reset(document: ManifestDocument, override: String?) async throws -> PipelineState? {
        let store = make(for: document, override: override)
        guard let current = try await store.load(pipeline: document.name) else { return nil }
        try await store.reset(pipeline: document.name)
        let tombstone = PipelineState(
            pipeline: document.name, checkpoint: current.checkpoint, source: nil, loadID: nil, runID: nil,
            committedAt: current.committedAt)
        // A target-atomic store only verifies what a sink wrote; the reset writes the row itself.
        let writable: any StateStore = (store as? TargetAtomicStateStore)?.store ?? store
        try await writable.commit(tombstone)
        return tombstone
    }

    /// The state table of a postgres store: `state.table`, else `dpone.__dpone__state`.
    public static func postgresTable(_ document: ManifestDocument) -> TableName {
        guard let table = document.state.table else { return PostgresStateStore.defaultTable }
        return TableName(schema: table.schema ?? PostgresStateStore.defaultTable.schema, name: table.name)
    }

    /// With `atomicity: target_atomic`, the table the sink writes the state row into, in its own
    /// transaction. The state store must be on the sink's database.
    public static func targetAtomicTable(for document: ManifestDocument) throws -> TableName? {
        guard document.state.atomicity == .targetAtomic else { return nil }
        guard let stateURL = document.state.connection?.resolved, let sinkURL = document.sink.connection?.resolved,
            stateURL.host == sinkURL.host, stateURL.port == sinkURL.port, stateURL.database == sinkURL.database
        else {
            throw DponeError(
                .manifest, "atomicity target_atomic needs the state store on the sink's database (same host, port and database)",
                hint: "point state.connection_ref at the sink's connection")
        }
        return postgresTable(document)
    }

    /// Fences concurrent runs of the pipeline: a lock file beside a file state store (one machine),
    /// a PostgreSQL advisory lock for a postgres store (any machine); nil when state is disabled.
    /// Keep the returned value alive for the whole run and `release` it at the end.
    public static func lock(for document: ManifestDocument, override: String?) async throws -> RunLock? {
        switch document.state.type {
        case .disabled:
            return nil
        case .file:
            return .file(
                try PipelineLock(directory: directory(for: document, override: override), pipeline: document.name))
        case .postgres:
            guard let url = document.state.connection?.resolved.url else { return nil }
            return .postgres(
                try await PostgresPipelineLock.acquire(
                    url: url, stateTable: postgresTable(document), pipeline: document.name))
        }
    }
}

/// The fence a run holds.
public enum RunLock: Sendable {
    case file(PipelineLock)
    case postgres(PostgresPipelineLock)

    public func release() async {
        switch self {
        case .file: break  // released with the value
        case .postgres(let lock): await lock.release()
        }
    }
}

/// A store this build cannot reach yet: every use fails with a clear message, before any data moves.
struct UnavailableStateStore: StateStore {
    let type: String
    func location(pipeline: String) -> String { "(\(type) state store)" }
    func load(pipeline: String) async throws -> PipelineState? { throw unavailable }
    func commit(_ state: PipelineState) async throws { throw unavailable }
    func reset(pipeline: String) async throws { throw unavailable }
    var unavailable: DponeError {
        DponeError(
            .usage, "the \(type) state store is not available in this build",
            hint: "use `state: {type: file}` (the default) for now")
    }
}
