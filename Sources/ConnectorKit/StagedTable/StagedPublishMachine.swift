import Foundation
import Flow

/// The pure ordering rules of publishing one checkpoint from a staging table, without I/O: the one
/// sequence every database sink follows, whatever its SQL (`TargetDialect`).
///
/// 1. `begin` (only when the dialect publishes in one transaction);
/// 2. `readLedger`: the target's ledger row for this checkpoint and its newest checkpoint. A newer
///    checkpoint than this one means the state is behind the target (deleted, or pointing at another
///    store): refused, since skipping and re-publishing would both be wrong. A row for this
///    checkpoint is a replay after a crash between publish and state: nothing is published again
///    (the ledger's counts and positions are returned) unless the strategy re-applies replays
///    (`cdc_apply`, whose dialect skips what was applied already);
/// 3. `checkStaging`: NULL and duplicate keys, the strategy's window; any violation aborts with the
///    target untouched;
/// 4. `publish` the strategy's steps;
/// 5. `recordLedger` (the ledger row), then `writeState` when the state lives in the target;
/// 6. `dropStaging`, then `commit` (transactional dialects), then `finish`.
///
/// Any failure, the machine's own refusals included, becomes `abort`: roll back when a transaction
/// is open, drop the staging table, and report the error. States are named for what they wait on.
public struct StagedPublishMachine: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Steps 2–6 run inside one transaction (else each step is idempotent on its own).
        public var transactional: Bool
        /// A checkpoint found in the ledger is applied again rather than skipped.
        public var reappliesReplays: Bool
        /// The state row is written with the ledger row (target-atomic state).
        public var writesState: Bool

        public init(transactional: Bool, reappliesReplays: Bool = false, writesState: Bool = false) {
            self.transactional = transactional
            self.reappliesReplays = reappliesReplays
            self.writesState = writesState
        }
    }

    public enum Action: Equatable, Sendable {
        case begin
        case readLedger
        case checkStaging
        /// Run the strategy's steps; `replay`: the ledger already has this checkpoint (re-applying
        /// strategies only).
        case publish(replay: Bool)
        case recordLedger(SinkCommit)
        case writeState
        case dropStaging
        case commit
        /// Done: report this commit to the coordinator.
        case finish(SinkCommit)
        /// Roll back when `rollback`, drop the staging table, then throw `error` (nil: the error the
        /// failed step threw).
        case abort(rollback: Bool, error: DponeError?)
    }

    public enum Violation: Error, Equatable, Sendable {
        /// An event arrived that the current phase does not wait for.
        case unexpected(event: String, phase: String)
    }

    enum Phase: Equatable, Sendable {
        case idle
        case awaitingBegin
        case awaitingLedger
        case awaitingChecks(replay: Bool)
        case awaitingPublish
        case awaitingLedgerRecord(SinkCommit)
        case awaitingStateWrite(SinkCommit)
        case awaitingStagingDrop(SinkCommit)
        case awaitingCommit(SinkCommit)
        case finished
        case aborted
    }

    public let configuration: Configuration
    public let context: CheckpointContext
    /// What errors name: the target and its ledger.
    public let target: String
    public let ledger: String
    private var phase: Phase = .idle
    /// Whether a transaction is open (a failure then rolls back).
    private var inTransaction = false
    /// The ledger had the checkpoint and nothing was published again: its counts stand.
    private var replayed = false

    public init(configuration: Configuration, context: CheckpointContext, target: String, ledger: String) {
        self.configuration = configuration
        self.context = context
        self.target = target
        self.ledger = ledger
    }

    public mutating func start() throws(Violation) -> Action {
        try expect(.idle, "start")
        if configuration.transactional {
            phase = .awaitingBegin
            return .begin
        }
        phase = .awaitingLedger
        return .readLedger
    }

    public mutating func begun() throws(Violation) -> Action {
        try expect(.awaitingBegin, "begun")
        inTransaction = true
        phase = .awaitingLedger
        return .readLedger
    }

    /// - Parameters:
    ///   - published: the ledger's row for this checkpoint (nil: never published).
    ///   - newest: the newest checkpoint the ledger holds for this pipeline and target.
    public mutating func ledgerRead(published: SinkCommit?, newest: CheckpointID?) throws(Violation) -> Action {
        try expect(.awaitingLedger, "ledgerRead")
        if let newest, newest > context.id { return abort(Self.newerCheckpointError(newest, context, target: target, ledger: ledger)) }
        if let published, !configuration.reappliesReplays {
            replayed = true
            phase = .awaitingStagingDrop(published)
            return .dropStaging
        }
        phase = .awaitingChecks(replay: published != nil)
        return .checkStaging
    }

    public mutating func stagingChecked(_ violations: [StagingViolation]) throws(Violation) -> Action {
        guard case .awaitingChecks(let replay) = phase else { throw .unexpected(event: "stagingChecked", phase: "\(phase)") }
        if let first = violations.first {
            return abort(
                DponeError(
                    .sink, "staging for \(target) has \(first.count) \(first.what); the target is untouched", hint: first.hint,
                    context: ["table": target, "checkpoint": "\(context.id)", DponeError.permanentKey: "true"]))
        }
        phase = .awaitingPublish
        return .publish(replay: replay)
    }

    public mutating func published(_ commit: SinkCommit) throws(Violation) -> Action {
        try expect(.awaitingPublish, "published")
        phase = .awaitingLedgerRecord(commit)
        return .recordLedger(commit)
    }

    public mutating func ledgerRecorded() throws(Violation) -> Action {
        guard case .awaitingLedgerRecord(let commit) = phase else { throw .unexpected(event: "ledgerRecorded", phase: "\(phase)") }
        if configuration.writesState {
            phase = .awaitingStateWrite(commit)
            return .writeState
        }
        phase = .awaitingStagingDrop(commit)
        return .dropStaging
    }

    public mutating func stateWritten() throws(Violation) -> Action {
        guard case .awaitingStateWrite(var commit) = phase else { throw .unexpected(event: "stateWritten", phase: "\(phase)") }
        commit.stateCommitted = true
        phase = .awaitingStagingDrop(commit)
        return .dropStaging
    }

    public mutating func stagingDropped() throws(Violation) -> Action {
        guard case .awaitingStagingDrop(let commit) = phase else { throw .unexpected(event: "stagingDropped", phase: "\(phase)") }
        if inTransaction {
            phase = .awaitingCommit(commit)
            return .commit
        }
        phase = .finished
        return .finish(commit)
    }

    /// - Parameter counts: what the committed transaction counted, when the dialect learns it only
    ///   then (`TargetDialect.committedCounts`): its inserted, updated and deleted counts and its
    ///   reconciliation replace those `publish` returned. Ignored for a replay, whose counts are the
    ///   ledger's.
    public mutating func committed(counts: SinkCommit? = nil) throws(Violation) -> Action {
        guard case .awaitingCommit(var commit) = phase else { throw .unexpected(event: "committed", phase: "\(phase)") }
        inTransaction = false
        phase = .finished
        if let counts, !replayed {
            commit.inserted = counts.inserted
            commit.updated = counts.updated
            commit.deleted = counts.deleted
            commit.reconciliation = counts.reconciliation
        }
        return .finish(commit)
    }

    /// The step the last action asked for threw: abort, rethrowing its error.
    public mutating func stepFailed() -> Action { abort(nil) }

    private mutating func abort(_ error: DponeError?) -> Action {
        let rollback = inTransaction
        inTransaction = false
        phase = .aborted
        return .abort(rollback: rollback, error: error)
    }

    private func expect(_ expected: Phase, _ event: String) throws(Violation) {
        guard phase == expected else { throw .unexpected(event: event, phase: "\(phase)") }
    }

    /// The one refusal of a ledger ahead of the state.
    public static func newerCheckpointError(_ newest: CheckpointID, _ context: CheckpointContext, target: String, ledger: String) -> DponeError {
        DponeError(
            .state,
            "\(target) already has checkpoint \(newest) of pipeline '\(context.pipeline)' published, but the state is at checkpoint \(context.id.rawValue - 1): the state was deleted or points to another store",
            hint: "restore the state, or start over with `dpone state reset` (it keeps checkpoint numbering) after deciding what the target should hold",
            context: ["table": target, "ledger": ledger, DponeError.permanentKey: "true"])
    }
}

/// A check on staging that found rows it refuses (NULL keys, duplicate keys, rows outside the
/// strategy's window, too many partitions).
public struct StagingViolation: Sendable, Equatable {
    /// What the rows are, as a phrase: "duplicate unique keys (id)".
    public var what: String
    public var count: Int
    public var hint: String?

    public init(what: String, count: Int, hint: String? = nil) {
        self.what = what
        self.count = count
        self.hint = hint
    }
}

extension SinkCommit {
    /// A ledger row read as text, `inserted, updated, deleted, positions` (JSON): what a replayed
    /// checkpoint reports. Dialects that read their ledger through a text interface (ODBC, REST).
    public init(ledgerRow row: [String?]) throws {
        let positions = try row.count > 3 ? row[3].map { try JSONDecoder().decode(StateValue.self, from: Data($0.utf8)) } : nil
        func count(_ i: Int) -> Int { i < row.count ? row[i].flatMap { Int($0) } ?? 0 : 0 }
        self.init(inserted: count(0), updated: count(1), deleted: count(2), publishedPositions: positions)
    }
}
