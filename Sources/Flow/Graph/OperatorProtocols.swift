/// A checkpoint number. Numbers grow by one per checkpoint and continue across runs:
/// the first checkpoint of a run is the last durable one plus one.
public struct CheckpointID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var next: CheckpointID { CheckpointID(rawValue + 1) }
    public var description: String { String(rawValue) }
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(UInt64.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A pure batch transform (project, cast, filter, lineage, row hash...).
///
/// `outputSchema(for:)` is called once when the graph is built, so schema errors surface before
/// any data moves; `apply` is then called for every batch and MUST return a batch of that schema.
public protocol BatchTransform: Sendable {
    var name: String { get }
    func outputSchema(for input: Schema) throws -> Schema
    func apply(_ batch: Batch) throws -> Batch
}

/// Where a source writes. Implemented by the graph runner.
public protocol SourceOutput: Sendable {
    /// Sends a batch; suspends while the channel is full.
    func send(_ batch: Batch) async throws
    /// Sends a batch from a dedicated (non-cooperative) thread, blocking it while the channel is full.
    /// MUST NOT be called from a Swift concurrency task.
    func sendBlocking(_ batch: Batch) throws
    /// Injects a checkpoint barrier carrying the positions read up to this point (the source's part of
    /// the state for this checkpoint). Returns the barrier's id.
    @discardableResult
    func checkpoint(positions: StateValue) async throws -> CheckpointID
    /// Blocking variant of `checkpoint(positions:)` for dedicated threads.
    @discardableResult
    func checkpointBlocking(positions: StateValue) throws -> CheckpointID
    /// Sends a batch of output `route` (a source with several outputs, one per table of a replication
    /// slot: see `SourceOperator.outputSchemas()`); suspends while that route's channel is full.
    /// The default sends route 0 and refuses others.
    func send(_ batch: Batch, route: Int) async throws
    /// Blocking variant of `send(_:route:)` for dedicated threads.
    func sendBlocking(_ batch: Batch, route: Int) throws
    /// A checkpoint whose batches since the previous one are a complete copy of the source (a full
    /// read, a CDC source's initial snapshot): only such a checkpoint lets a sink treat a target row
    /// missing from it as deleted (`CheckpointContext.isComplete`). The default sends an ordinary
    /// (partial) checkpoint, which is the safe direction: a sink then deletes nothing.
    @discardableResult
    func completeCheckpoint(positions: StateValue) async throws -> CheckpointID
    /// Blocking variant of `completeCheckpoint(positions:)` for dedicated threads.
    @discardableResult
    func completeCheckpointBlocking(positions: StateValue) throws -> CheckpointID
}

extension SourceOutput {
    public func send(_ batch: Batch, route: Int) async throws {
        guard route == 0 else { throw DponeError(.internal, "this output has one route, a batch of route \(route) was sent") }
        try await send(batch)
    }

    public func sendBlocking(_ batch: Batch, route: Int) throws {
        guard route == 0 else { throw DponeError(.internal, "this output has one route, a batch of route \(route) was sent") }
        try sendBlocking(batch)
    }

    @discardableResult
    public func completeCheckpoint(positions: StateValue) async throws -> CheckpointID {
        try await checkpoint(positions: positions)
    }

    @discardableResult
    public func completeCheckpointBlocking(positions: StateValue) throws -> CheckpointID {
        try checkpointBlocking(positions: positions)
    }

    /// `completeCheckpoint(positions:)` when `complete`, else `checkpoint(positions:)`.
    @discardableResult
    public func checkpoint(positions: StateValue, complete: Bool) async throws -> CheckpointID {
        complete ? try await completeCheckpoint(positions: positions) : try await checkpoint(positions: positions)
    }

    /// `completeCheckpointBlocking(positions:)` when `complete`, else `checkpointBlocking(positions:)`.
    @discardableResult
    public func checkpointBlocking(positions: StateValue, complete: Bool) throws -> CheckpointID {
        complete ? try completeCheckpointBlocking(positions: positions) : try checkpointBlocking(positions: positions)
    }
}

/// Reads an external system and emits batches and checkpoint barriers.
public protocol SourceOperator: Sendable {
    var name: String { get }
    /// The schema of every batch the source emits. Called before `run`.
    func outputSchema() async throws -> Schema
    /// The schema of each output route, in route order (a source with one output: `[outputSchema()]`,
    /// the default). Every route has its own channel, transforms and sinks; barriers go to all.
    func outputSchemas() async throws -> [Schema]
    /// Emits batches into `output` until the input is exhausted or the task is cancelled.
    /// A bounded source MUST emit a checkpoint after its last batch (the run's final barrier).
    /// `resumeFrom` is the source's positions in the last durable state (nil on a first run).
    func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws
    /// Called after the state for `checkpoint` is durable, never before: the source may now release
    /// upstream positions (commit Kafka offsets, advance a replication slot).
    func acknowledge(_ checkpoint: CheckpointID) async throws
    /// Like `acknowledge(_:)`, with the positions the durable state holds for `checkpoint`: what a
    /// source may release upstream (commit to a Kafka group, confirm to a replication slot). They can
    /// differ from what the source emitted when a sink found the checkpoint already published. The
    /// default calls `acknowledge(_:)`.
    func acknowledge(_ checkpoint: CheckpointID, positions: StateValue) async throws
    /// Whether the source emits rows marked `.delete` (Kafka tombstones, delete events, CDC): a sink
    /// that can apply them by key then stages each row's operation. The default is false.
    var emitsDeletes: Bool { get }
    /// Whether the source emits change data stamped with monotonic positions (`__dpone__lsn`,
    /// PostgreSQL CDC): a `cdc_apply` sink may then skip events at or below what it published.
    /// The default is false.
    var emitsChangeData: Bool { get }
}

extension SourceOperator {
    public var emitsDeletes: Bool { false }
    public var emitsChangeData: Bool { false }

    public func outputSchemas() async throws -> [Schema] { [try await outputSchema()] }

    public func acknowledge(_ checkpoint: CheckpointID, positions: StateValue) async throws {
        try await acknowledge(checkpoint)
    }
}

/// Counts a sink reports when it publishes a checkpoint.
public struct SinkCommit: Sendable, Codable, Equatable {
    public var inserted: Int
    public var updated: Int
    public var deleted: Int
    /// Set when the sink found this checkpoint already published (its ledger has it: a replay after
    /// a crash between publish and state). These are the source positions recorded with that
    /// publication; the coordinator commits them instead of the re-read ones, so rows read past them
    /// in the replay are read again by the next checkpoint rather than lost.
    public var publishedPositions: StateValue?
    /// Changes made to the target's structure with this publication (`table.column: old -> new`).
    public var schemaChanges: [String] = []
    /// What the sink compared after publishing, one line per checkpoint (`dataset.t: staged 10 rows,
    /// target window 10 rows: match`); empty when the sink does not reconcile.
    public var reconciliation: [String] = []
    /// The sink wrote the pipeline state of this checkpoint in the transaction that published it
    /// (`state.atomicity: target_atomic`): the coordinator does not write it again.
    public var stateCommitted = false

    public init(inserted: Int = 0, updated: Int = 0, deleted: Int = 0, publishedPositions: StateValue? = nil) {
        self.inserted = inserted
        self.updated = updated
        self.deleted = deleted
        self.publishedPositions = publishedPositions
    }
}

/// What a sink knows about the checkpoint it publishes.
public struct CheckpointContext: Sendable, Equatable {
    public var id: CheckpointID
    public var pipeline: String
    /// The source positions this checkpoint covers (what the state will record).
    public var positions: StateValue
    public var loadID: String
    public var runID: String
    /// The checkpoint's batches are a complete copy of the source (a full read, a CDC source's
    /// initial snapshot). Only then may a sink treat a target row missing from them as deleted:
    /// `snapshot_diff` deletes, `scd2` expires, and `cdc_apply` removes keys a snapshot taken again
    /// (after a crash before its state was written) no longer has. A sink MUST NOT detect deletes
    /// on a partial checkpoint (an incremental read, a stream of changes): every row that did not
    /// change would look deleted.
    public var isComplete: Bool

    public init(
        id: CheckpointID, pipeline: String, positions: StateValue, loadID: String, runID: String, isComplete: Bool = false
    ) {
        self.id = id
        self.pipeline = pipeline
        self.positions = positions
        self.loadID = loadID
        self.runID = runID
        self.isComplete = isComplete
    }
}

/// Stages batches and publishes them on each checkpoint barrier.
public protocol SinkOperator: Sendable {
    var name: String { get }
    /// Prepares staging for batches of `schema`. Called once before the first batch.
    func open(schema: Schema) async throws
    /// Stages a batch. Nothing staged is visible to readers of the target until `finalize`.
    func write(_ batch: Batch) async throws
    /// Publishes everything staged since the previous checkpoint (the strategy's finalizer).
    /// MUST be idempotent for a repeated checkpoint id: a replay after a crash neither loses
    /// nor duplicates rows. `context` carries the checkpoint's identity and positions, for sinks
    /// that record them with the publication (a ledger row, or the state row itself when state is
    /// target-atomic), and whether it is a complete copy of the source (`isComplete`).
    func finalize(_ context: CheckpointContext) async throws -> SinkCommit
    /// Discards staged, unpublished data after a failure. Must not throw.
    func abort() async
    /// Releases connections after the run's last checkpoint was published. The default does nothing.
    func close() async
    /// Whether rows marked `.delete` in `Batch.operations` are applied as deletes. A sink that would
    /// store them as ordinary rows says false (the default): the run then fails on the first delete.
    var appliesDeletes: Bool { get }
    /// The newest checkpoint of `pipeline` this sink's target records as published (its ledger, its
    /// part files), with the positions recorded with it; nil when it records none. Called before
    /// `open` when the pipeline's state is missing: numbering then continues after it, so a new
    /// load is never mistaken for a replay of an old one. The default records nothing.
    func newestPublished(pipeline: String) async throws -> PublishedCheckpoint?
}

/// A checkpoint a sink's target records as published.
public struct PublishedCheckpoint: Sendable, Equatable {
    public var id: CheckpointID
    /// The source positions recorded with it (nil when the target keeps none).
    public var positions: StateValue?

    public init(id: CheckpointID, positions: StateValue?) {
        self.id = id
        self.positions = positions
    }
}

extension SinkOperator {
    public func close() async {}

    public var appliesDeletes: Bool { false }

    public func newestPublished(pipeline: String) async throws -> PublishedCheckpoint? { nil }
}
