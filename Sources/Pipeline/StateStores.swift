import Flow
import Manifest

/// Picks the state store a manifest asks for.
public enum StateStores {
    /// The directory of the file store: `--state-dir`, else the manifest's `state.dir`, else `.dpone/state`.
    public static func directory(for document: ManifestDocument, override: String?) -> String {
        override ?? document.state.directory ?? StateConfig.defaultDirectory
    }

    public static func make(for document: ManifestDocument, override: String?) -> any StateStore {
        switch document.state.type {
        case .file: FileStateStore(directory: directory(for: document, override: override))
        case .disabled: DisabledStateStore()
        case .postgres: UnavailableStateStore(type: "postgres")
        }
    }

    /// Fences concurrent runs of the pipeline; nil when state is disabled.
    public static func lock(for document: ManifestDocument, override: String?) throws -> PipelineLock? {
        guard document.state.type != .disabled else { return nil }
        return try PipelineLock(directory: directory(for: document, override: override), pipeline: document.name)
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
