import Flow

/// What one database target does at each step of `StagedPublishMachine`'s sequence, for one
/// checkpoint. A dialect holds the checkpoint's plan and connection; `StagedTableDriver` calls its
/// steps in the machine's order and never in any other, so a dialect never re-implements the
/// sequence (ledger, refusals, replay, abort): it only says how its target does each step.
///
/// Contracts:
/// - every step MUST leave the target unchanged when it throws before `publish`;
/// - a non-transactional dialect's `publish` MUST be safe to repeat after a crash anywhere in it
///   (set-based statements, tagged rows), because the ledger row comes after it;
/// - `dropStaging` MUST NOT throw (it is also the cleanup after a failure).
public protocol TargetDialect {
    /// Steps from `readLedger` to `commit` run in one transaction (PostgreSQL, SQL Server); else
    /// each is idempotent on its own (ClickHouse, BigQuery).
    var publishesInOneTransaction: Bool { get }
    /// What errors name: the target table and its ledger.
    var targetName: String { get }
    var ledgerName: String { get }

    mutating func begin() async throws
    mutating func commit() async throws
    /// What the transaction counted, for a dialect that learns it only when `commit` runs it (a
    /// script sent at commit: BigQuery); its `publish` then returns placeholder counts. nil (the
    /// default): the counts `publish` returned stand.
    var committedCounts: SinkCommit? { get }
    /// Best effort after a failure; MUST NOT throw.
    mutating func rollback() async

    /// The ledger's row for `context` (its counts and the positions it was published with) and the
    /// newest checkpoint the ledger holds for the pipeline and target.
    mutating func readLedger(_ context: CheckpointContext) async throws -> (published: SinkCommit?, newest: CheckpointID?)
    /// Prepares staging (a duplicate policy that keeps each key's last row) and runs the checks:
    /// NULL or duplicate keys, the strategy's window or partition count.
    mutating func checkStaging(_ context: CheckpointContext) async throws -> [StagingViolation]
    /// The strategy's steps. `replay`: the ledger has this checkpoint already (strategies that
    /// re-apply replays skip what was applied).
    mutating func publish(_ context: CheckpointContext, replay: Bool) async throws -> SinkCommit
    mutating func recordLedger(_ context: CheckpointContext, _ commit: SinkCommit) async throws
    /// Writes the pipeline's state row with the ledger row (target-atomic state only).
    mutating func writeState(_ context: CheckpointContext) async throws
    mutating func dropStaging() async
}

extension TargetDialect {
    public var committedCounts: SinkCommit? { nil }

    public mutating func writeState(_ context: CheckpointContext) async throws {
        throw DponeError(.internal, "\(targetName) does not keep the pipeline state")
    }
}

/// Runs `StagedPublishMachine` over a dialect: the one implementation of "what a staged-table sink
/// does on a checkpoint".
public enum StagedTableDriver {
    /// Publishes `context`'s staged rows through `dialect`; returns what the coordinator records.
    /// On any failure the transaction is rolled back, staging dropped, and the error rethrown.
    public static func publish<Dialect: TargetDialect>(
        _ context: CheckpointContext, through dialect: inout Dialect, reappliesReplays: Bool = false,
        writesState: Bool = false
    ) async throws -> SinkCommit {
        var machine = StagedPublishMachine(
            configuration: .init(
                transactional: dialect.publishesInOneTransaction, reappliesReplays: reappliesReplays, writesState: writesState),
            context: context, target: dialect.targetName, ledger: dialect.ledgerName)
        var action = try machine.start()
        while true {
            do {
                switch action {
                case .begin:
                    try await dialect.begin()
                    action = try machine.begun()
                case .readLedger:
                    let ledger = try await dialect.readLedger(context)
                    action = try machine.ledgerRead(published: ledger.published, newest: ledger.newest)
                case .checkStaging:
                    action = try machine.stagingChecked(try await dialect.checkStaging(context))
                case .publish(let replay):
                    action = try machine.published(try await dialect.publish(context, replay: replay))
                case .recordLedger(let commit):
                    try await dialect.recordLedger(context, commit)
                    action = try machine.ledgerRecorded()
                case .writeState:
                    try await dialect.writeState(context)
                    action = try machine.stateWritten()
                case .dropStaging:
                    await dialect.dropStaging()
                    action = try machine.stagingDropped()
                case .commit:
                    try await dialect.commit()
                    action = try machine.committed(counts: dialect.committedCounts)
                case .finish(let commit):
                    return commit
                case .abort(let rollback, let error):
                    if rollback { await dialect.rollback() }
                    await dialect.dropStaging()
                    if let error { throw error }
                    throw DponeError(.internal, "a staged publish aborted without an error")
                }
            } catch let violation as StagedPublishMachine.Violation {
                throw DponeError(.internal, "staged publish sequence violated: \(violation)", context: ["table": dialect.targetName])
            } catch {
                if case .abort = action { throw error }
                let abort = machine.stepFailed()
                if case .abort(let rollback, _) = abort {
                    if rollback { await dialect.rollback() }
                    await dialect.dropStaging()
                }
                throw error
            }
        }
    }
}
