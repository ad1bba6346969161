import ConnectorKit
import Flow
import Testing

/// The driver over an in-memory target, without a server: a crash at every step of the sequence,
/// then the replay, ends exactly where an uninterrupted publish ends, for a transactional target
/// (uncommitted work vanishes) and an idempotent one (work done before the crash stays).
@Suite struct StagedTableDriverTests {
    enum Step: String, CaseIterable, Sendable {
        // (dropStaging cannot fail: it is also the cleanup after a failure.)
        case begin, readLedger, checkStaging, publishMidway, publish, recordLedger, writeState, commit
    }

    struct Crash: Error {}

    /// The server: committed rows (key -> checkpoint that wrote it), ledger and state.
    final class Server {
        var rows: [Int: UInt64] = [:]
        var ledger: [UInt64: SinkCommit] = [:]
        var state: UInt64?
        var calls: [String] = []
    }

    struct MemoryDialect: TargetDialect {
        let server: Server
        let transactional: Bool
        let staged: [Int]
        var crashAt: Step?
        var violations: [StagingViolation] = []
        /// Uncommitted changes of a transactional target.
        var pendingRows: [Int: UInt64]?
        var pendingLedger: [UInt64: SinkCommit] = [:]
        var pendingState: UInt64?

        var publishesInOneTransaction: Bool { transactional }
        var targetName: String { "mem.t" }
        var ledgerName: String { "mem.ledger" }

        mutating func step(_ step: Step) throws {
            server.calls.append(step.rawValue)
            if crashAt == step { throw Crash() }
        }

        var rows: [Int: UInt64] {
            get { pendingRows ?? server.rows }
            set { if transactional { pendingRows = newValue } else { server.rows = newValue } }
        }

        mutating func begin() async throws {
            try step(.begin)
            pendingRows = server.rows
        }

        mutating func commit() async throws {
            try step(.commit)
            if let pendingRows { server.rows = pendingRows }
            server.ledger.merge(pendingLedger) { $1 }
            if let pendingState { server.state = pendingState }
            pendingRows = nil
        }

        mutating func rollback() async {
            server.calls.append("rollback")
            pendingRows = nil
            pendingLedger = [:]
            pendingState = nil
        }

        mutating func readLedger(_ context: CheckpointContext) async throws -> (published: SinkCommit?, newest: CheckpointID?) {
            try step(.readLedger)
            return (server.ledger[context.id.rawValue], server.ledger.keys.max().map(CheckpointID.init))
        }

        mutating func checkStaging(_ context: CheckpointContext) async throws -> [StagingViolation] {
            try step(.checkStaging)
            return violations
        }

        /// Insert-if-absent of every staged key, tagged with the checkpoint: repeating it adds nothing.
        mutating func publish(_ context: CheckpointContext, replay: Bool) async throws -> SinkCommit {
            for (i, key) in staged.enumerated() {
                if i == staged.count / 2 { try step(.publishMidway) }
                if rows[key] == nil { rows[key] = context.id.rawValue }
            }
            try step(.publish)
            return SinkCommit(inserted: rows.values.filter { $0 == context.id.rawValue }.count)
        }

        mutating func recordLedger(_ context: CheckpointContext, _ commit: SinkCommit) async throws {
            try step(.recordLedger)
            var recorded = commit
            recorded.publishedPositions = context.positions
            if transactional { pendingLedger[context.id.rawValue] = recorded } else { server.ledger[context.id.rawValue] = recorded }
        }

        mutating func writeState(_ context: CheckpointContext) async throws {
            try step(.writeState)
            if transactional { pendingState = context.id.rawValue } else { server.state = context.id.rawValue }
        }

        mutating func dropStaging() async { server.calls.append("dropStaging") }
    }

    static let context = CheckpointContext(id: CheckpointID(2), pipeline: "p", positions: .int(2), loadID: "l", runID: "r")

    /// A server that already holds checkpoint 1 (keys 1...3).
    static func server() -> Server {
        let server = Server()
        for key in 1...3 { server.rows[key] = 1 }
        server.ledger[1] = SinkCommit(inserted: 3, publishedPositions: .int(1))
        server.state = 1
        return server
    }

    static let staged = [2, 3, 4, 5, 6]

    @Test(arguments: [true, false], Step.allCases)
    func aCrashAtAnyStepThenTheReplayEndsLikeAnUninterruptedPublish(transactional: Bool, crash: Step) async throws {
        let writesState = transactional
        if !transactional && [.begin, .commit, .writeState].contains(crash) { return }
        let reference = Self.server()
        var clean = MemoryDialect(server: reference, transactional: transactional, staged: Self.staged)
        let expected = try await StagedTableDriver.publish(Self.context, through: &clean, writesState: writesState)
        var uninterrupted = SinkCommit(inserted: 3)
        uninterrupted.stateCommitted = writesState  // the commit reports the state it wrote with the data
        #expect(expected == uninterrupted)

        let server = Self.server()
        var crashing = MemoryDialect(server: server, transactional: transactional, staged: Self.staged, crashAt: crash)
        await #expect(throws: Crash.self) {
            try await StagedTableDriver.publish(Self.context, through: &crashing, writesState: writesState)
        }
        #expect(server.calls.contains(crash.rawValue), "the crash fired at \(crash)")
        #expect(server.calls.last == "dropStaging", "staging is dropped after a failure: \(server.calls)")
        if transactional {
            #expect(server.calls.contains("rollback") == (crash != .begin), "\(server.calls)")
        }
        var replay = MemoryDialect(server: server, transactional: transactional, staged: Self.staged)
        let replayed = try await StagedTableDriver.publish(Self.context, through: &replay, writesState: writesState)
        #expect(server.rows == reference.rows, "after a crash at \(crash) the replay converges")
        #expect(server.ledger[2] == reference.ledger[2])
        #expect(server.state == reference.state)
        #expect(replayed == expected, "the replay reports what an uninterrupted publish reports")
    }

    @Test(arguments: [true, false]) func aPublishedCheckpointIsNotPublishedAgain(transactional: Bool) async throws {
        let server = Self.server()
        var first = MemoryDialect(server: server, transactional: transactional, staged: Self.staged)
        _ = try await StagedTableDriver.publish(Self.context, through: &first)
        server.calls = []
        var again = MemoryDialect(server: server, transactional: transactional, staged: [99])
        let commit = try await StagedTableDriver.publish(Self.context, through: &again)
        #expect(commit == SinkCommit(inserted: 3, publishedPositions: .int(2)))
        #expect(server.rows[99] == nil)
        #expect(!server.calls.contains("checkStaging") && server.calls.contains("dropStaging"))
    }

    @Test func aViolationLeavesTheTargetAsItWas() async throws {
        for transactional in [true, false] {
            let server = Self.server()
            var dialect = MemoryDialect(
                server: server, transactional: transactional, staged: Self.staged,
                violations: [StagingViolation(what: "rows with a NULL unique key", count: 1)])
            await #expect(throws: DponeError.self) { try await StagedTableDriver.publish(Self.context, through: &dialect) }
            #expect(server.rows == Self.server().rows && server.ledger.count == 1)
            #expect(server.calls.last == "dropStaging")
        }
    }

    @Test func aNewerLedgerIsRefused() async throws {
        let server = Self.server()
        server.ledger[7] = SinkCommit()
        var dialect = MemoryDialect(server: server, transactional: true, staged: Self.staged)
        do {
            _ = try await StagedTableDriver.publish(Self.context, through: &dialect)
            Issue.record("a ledger ahead of the state must be refused")
        } catch let error as DponeError {
            #expect(error.kind == .state && error.message.hasPrefix("mem.t already has checkpoint 7"))
        }
        #expect(server.rows == Self.server().rows)
        #expect(server.calls == ["begin", "readLedger", "rollback", "dropStaging"])
    }
}
