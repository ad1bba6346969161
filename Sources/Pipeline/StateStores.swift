import Foundation
import Flow
import Manifest
import ConnectorKit

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
        default:
            do {
                guard let connector = ConnectorRegistry.stateStoreConnector(for: document.state.type) else {
                    throw DponeError(
                        .usage, "the \(document.state.type.rawValue) state store is not available in this build",
                        hint: "use `state: {type: file}` (the default)")
                }
                return try connector.makeStateStore(document)
            } catch {
                return UnavailableStateStore(type: document.state.type.rawValue, error: error)
            }
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
        try await store.commit(tombstone)
        return tombstone
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
        default:
            guard let connector = ConnectorRegistry.stateStoreConnector(for: document.state.type),
                let lock = try await connector.lockPipeline(document)
            else { return nil }
            return .connector(lock)
        }
    }
}

/// The fence a run holds.
public enum RunLock: Sendable {
    case file(PipelineLock)
    /// A lock kept by the state store's system (a PostgreSQL advisory lock).
    case connector(any PipelineRunLock)

    public func release() async {
        switch self {
        case .file: break  // released with the value
        case .connector(let lock): await lock.release()
        }
    }
}

/// A store that cannot be built (no connection, or no connector for its type): every use fails
/// with that error, before any data moves.
struct UnavailableStateStore: StateStore {
    let type: String
    let error: any Error
    func location(pipeline: String) -> String { "(\(type) state store)" }
    func load(pipeline: String) async throws -> PipelineState? { throw error }
    func commit(_ state: PipelineState) async throws { throw error }
    func reset(pipeline: String) async throws { throw error }
}
