import Foundation

/// The durable state of one pipeline: what the last durable checkpoint published and read up to.
public struct PipelineState: Sendable, Codable, Equatable {
    public static let formatVersion = 1

    public var formatVersion: Int
    public var pipeline: String
    /// The last durable checkpoint.
    public var checkpoint: CheckpointID
    /// The source's positions at that checkpoint (cursor, offsets, LSN...).
    public var source: StateValue?
    /// The load id of the run that wrote it.
    public var loadID: String?
    public var runID: String?
    /// RFC 3339 UTC time of the commit.
    public var committedAt: String

    public init(
        pipeline: String, checkpoint: CheckpointID, source: StateValue?, loadID: String?, runID: String?,
        committedAt: String
    ) {
        self.formatVersion = Self.formatVersion
        self.pipeline = pipeline
        self.checkpoint = checkpoint
        self.source = source
        self.loadID = loadID
        self.runID = runID
        self.committedAt = committedAt
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case pipeline, checkpoint, source
        case loadID = "load_id"
        case runID = "run_id"
        case committedAt = "committed_at"
    }
}

/// Where checkpoint state is kept.
///
/// Contract: when `commit` returns, the state survives a crash or power loss; a later `load` returns it.
/// `commit` either writes the whole document or leaves the previous one in place.
public protocol StateStore: Sendable {
    /// A human-readable location, for messages (`.dpone/state/orders.json`).
    func location(pipeline: String) -> String
    func load(pipeline: String) async throws -> PipelineState?
    func commit(_ state: PipelineState) async throws
    func reset(pipeline: String) async throws
}

/// Keeps no state (`state: {type: disabled}`): every run starts from scratch.
public struct DisabledStateStore: StateStore {
    public init() {}
    public func location(pipeline: String) -> String { "(state disabled)" }
    public func load(pipeline: String) async throws -> PipelineState? { nil }
    public func commit(_ state: PipelineState) async throws {}
    public func reset(pipeline: String) async throws {}
}

extension PipelineState {
    /// Decodes a stored row of a database state store: the document must be a `PipelineState` of
    /// `pipeline` at the row's checkpoint. Throws `DponeError(.state)` naming `location` otherwise.
    public static func decodeStored(checkpoint: String, document: String, pipeline: String, location: String) throws -> PipelineState {
        func corrupt(_ why: String) -> DponeError {
            DponeError(
                .state, "cannot read state document \(location): \(why)",
                hint: "inspect it with `dpone state show`, or `dpone state reset` to start over",
                context: ["pipeline": pipeline, "state": location])
        }
        let state: PipelineState
        do {
            state = try JSONDecoder().decode(PipelineState.self, from: Data(document.utf8))
        } catch {
            throw corrupt("\(error)")
        }
        guard state.pipeline == pipeline else { throw corrupt("the document belongs to pipeline '\(state.pipeline)'") }
        guard state.checkpoint.description == checkpoint else {
            throw corrupt("the document's checkpoint \(state.checkpoint) differs from the row's \(checkpoint)")
        }
        return state
    }
}
