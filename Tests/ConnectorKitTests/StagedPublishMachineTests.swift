import ConnectorKit
import Flow
import Testing

/// The publish sequence without a server: every action order the machine can produce.
@Suite struct StagedPublishMachineTests {
    static let context = CheckpointContext(id: CheckpointID(5), pipeline: "p", positions: .int(5), loadID: "l", runID: "r")
    typealias Machine = StagedPublishMachine

    func machine(transactional: Bool, reapplies: Bool = false, state: Bool = false) -> Machine {
        Machine(
            configuration: .init(transactional: transactional, reappliesReplays: reapplies, writesState: state),
            context: Self.context, target: "s.t", ledger: "s.__dpone__loads")
    }

    @Test func aTransactionalPublishRunsEveryStepInOrder() throws {
        var m = machine(transactional: true, state: true)
        let commit = SinkCommit(inserted: 3)
        #expect(try m.start() == .begin)
        #expect(try m.begun() == .readLedger)
        #expect(try m.ledgerRead(published: nil, newest: CheckpointID(4)) == .checkStaging)
        #expect(try m.stagingChecked([]) == .publish(replay: false))
        #expect(try m.published(commit) == .recordLedger(commit))
        #expect(try m.ledgerRecorded() == .writeState)
        #expect(try m.stateWritten() == .dropStaging)
        #expect(try m.stagingDropped() == .commit)
        // The commit says the state went with the data: the coordinator then writes none.
        var reported = commit
        reported.stateCommitted = true
        #expect(try m.committed() == .finish(reported))
    }

    @Test func anIdempotentPublishHasNoTransactionAndNoStateRow() throws {
        var m = machine(transactional: false)
        let commit = SinkCommit(updated: 1)
        #expect(try m.start() == .readLedger)
        #expect(try m.ledgerRead(published: nil, newest: nil) == .checkStaging)
        #expect(try m.stagingChecked([]) == .publish(replay: false))
        #expect(try m.published(commit) == .recordLedger(commit))
        #expect(try m.ledgerRecorded() == .dropStaging)
        #expect(try m.stagingDropped() == .finish(commit))
    }

    @Test(arguments: [true, false]) func aReplayPublishesNothingAndReturnsTheLedgersCommit(transactional: Bool) throws {
        var m = machine(transactional: transactional)
        let recorded = SinkCommit(inserted: 7, publishedPositions: .int(4))
        if transactional { #expect(try m.start() == .begin); _ = try m.begun() } else { #expect(try m.start() == .readLedger) }
        #expect(try m.ledgerRead(published: recorded, newest: CheckpointID(5)) == .dropStaging)
        if transactional { #expect(try m.stagingDropped() == .commit); #expect(try m.committed() == .finish(recorded)) }
        else { #expect(try m.stagingDropped() == .finish(recorded)) }
    }

    /// A dialect that learns its counts only at commit (a script) reports them there; a replay
    /// keeps the ledger's whatever the commit said.
    @Test func countsKnownAtCommitReplaceThePlaceholdersButNeverAReplaysOwn() throws {
        var counted = SinkCommit(inserted: 9, updated: 2, deleted: 1)
        counted.reconciliation = ["s.t checkpoint 5: match"]
        var m = machine(transactional: true)
        _ = try m.start()
        _ = try m.begun()
        _ = try m.ledgerRead(published: nil, newest: nil)
        _ = try m.stagingChecked([])
        _ = try m.published(SinkCommit())
        _ = try m.ledgerRecorded()
        #expect(try m.stagingDropped() == .commit)
        #expect(try m.committed(counts: counted) == .finish(counted))

        var replay = machine(transactional: true)
        let recorded = SinkCommit(inserted: 7, publishedPositions: .int(4))
        _ = try replay.start()
        _ = try replay.begun()
        _ = try replay.ledgerRead(published: recorded, newest: CheckpointID(5))
        _ = try replay.stagingDropped()
        #expect(try replay.committed(counts: counted) == .finish(recorded))
    }

    @Test func aStrategyThatReappliesReplaysPublishesAgainAsAReplay() throws {
        var m = machine(transactional: false, reapplies: true)
        _ = try m.start()
        #expect(try m.ledgerRead(published: SinkCommit(inserted: 1), newest: CheckpointID(5)) == .checkStaging)
        #expect(try m.stagingChecked([]) == .publish(replay: true))
    }

    @Test(arguments: [true, false]) func aNewerLedgerIsRefusedBeforeAnythingIsPublished(transactional: Bool) throws {
        var m = machine(transactional: transactional)
        _ = try m.start()
        if transactional { _ = try m.begun() }
        let action = try m.ledgerRead(published: nil, newest: CheckpointID(9))
        guard case .abort(let rollback, let error?) = action else { Issue.record("expected abort, got \(action)"); return }
        #expect(rollback == transactional)
        #expect(error.kind == .state)
        #expect(error.message == "s.t already has checkpoint 9 of pipeline 'p' published, but the state is at checkpoint 4: the state was deleted or points to another store")
    }

    @Test func aStagingViolationAbortsWithTheTargetUntouched() throws {
        var m = machine(transactional: true)
        _ = try m.start()
        _ = try m.begun()
        _ = try m.ledgerRead(published: nil, newest: nil)
        let action = try m.stagingChecked([StagingViolation(what: "duplicate unique keys (id)", count: 2, hint: "deduplicate")])
        #expect(
            action
                == .abort(
                    rollback: true,
                    error: DponeError(
                        .sink, "staging for s.t has 2 duplicate unique keys (id); the target is untouched", hint: "deduplicate",
                        context: ["table": "s.t", "checkpoint": "5", DponeError.permanentKey: "true"])))
    }

    @Test func aFailedStepRollsBackOnlyAnOpenTransaction() throws {
        var tx = machine(transactional: true)
        #expect(try tx.start() == .begin)
        #expect(tx.stepFailed() == .abort(rollback: false, error: nil), "BEGIN itself failed: nothing to roll back")
        var open = machine(transactional: true)
        _ = try open.start()
        _ = try open.begun()
        _ = try open.ledgerRead(published: nil, newest: nil)
        _ = try open.stagingChecked([])
        #expect(open.stepFailed() == .abort(rollback: true, error: nil))
        var plain = machine(transactional: false)
        _ = try plain.start()
        #expect(plain.stepFailed() == .abort(rollback: false, error: nil))
    }

    @Test func eventsOutOfOrderAreViolations() throws {
        var m = machine(transactional: true)
        #expect(throws: Machine.Violation.self) { try m.published(SinkCommit()) }
        _ = try m.start()
        #expect(throws: Machine.Violation.self) { try m.ledgerRead(published: nil, newest: nil) }
        _ = try m.begun()
        #expect(throws: Machine.Violation.self) { try m.committed() }
    }
}
