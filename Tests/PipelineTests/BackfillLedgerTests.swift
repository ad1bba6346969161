import ConnectorKit
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import DponeTestSupport
import Testing

/// Where a ledger under test lives: a file, and (with the local services) PostgreSQL tables.
enum LedgerKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case file, postgres

    /// The file ledger always; the PostgreSQL one when the integration layer runs.
    static var enabled: [LedgerKind] { ProcessInfo.processInfo.environment["DPONE_RUN_INTEGRATION"] == "1" ? allCases : [.file] }

    var testDescription: String { rawValue }
}

/// The chunk ledgers (file, PostgreSQL): claims, leases, takeovers, fencing, frozen plans, cancel.
/// Every test runs on both; a second ledger object on the same place stands for another process.
@Suite struct BackfillLedgerTests {
    let dir = NSTemporaryDirectory() + "dpone-ledger-" + UUID().uuidString
    let schema = PostgresTestServer.uniqueSchemaName("ledger")

    func ledger(_ kind: LedgerKind, id: String = "default") throws -> any BackfillLedger {
        switch kind {
        case .file:
            return FileBackfillLedger(directory: dir, pipeline: "p", id: id)
        case .postgres:
            try PostgresTestServer.require()
            return PostgresBackfillLedger(url: PostgresTestServer.url, stateTable: TableName(schema: schema, name: "state"), pipeline: "p", id: id)
        }
    }

    func cleanUp(_ kind: LedgerKind) async {
        try? FileManager.default.removeItem(atPath: dir)
        guard kind == .postgres, let c = try? await PostgresConnection.connect(url: PostgresTestServer.url) else { return }
        try? await c.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
        await c.close()
    }

    func plan(_ to: String = "10", chunk: String = "3") throws -> BackfillPlan {
        try BackfillPlan.make(BackfillConfig(column: "id", from: "1", to: to, chunk: chunk))
    }

    @Test(arguments: LedgerKind.enabled)
    func lanesClaimEachChunkOnceInOrder(_ kind: LedgerKind) async throws {
        let ledger = try self.ledger(kind)
        try await ledger.prepare(plan: try plan(), configDigest: "c")
        var claimed: [Int] = []
        while let claim = try await ledger.claim(owner: "h:1:0", leaseSeconds: 60, onlyFailed: false) {
            claimed.append(claim.record.chunk.index)
            #expect(claim.tookOverFrom == nil)
            #expect(try await ledger.finish(index: claim.record.chunk.index, token: claim.token, rows: 3, skippedAsPublished: false))
        }
        #expect(claimed == [0, 1, 2, 3])
        let s = try #require(try await ledger.snapshot())
        #expect(s.count(.done) == 4)
        #expect(s.chunks.allSatisfy { $0.attempts == 1 && $0.rows == 3 })
        // A second ledger object on the same file (another process) sees the same state.
        let other = try self.ledger(kind)
        #expect(try await other.claim(owner: "h:2:0", leaseSeconds: 60, onlyFailed: false) == nil)
        await cleanUp(kind)
    }

    @Test(arguments: LedgerKind.enabled)
    func anExpiredLeaseIsTakenOverAndTheOldLaneIsFencedOff(_ kind: LedgerKind) async throws {
        let ledger = try self.ledger(kind)
        try await ledger.prepare(plan: try plan("3"), configDigest: "c")
        let first = try #require(try await ledger.claim(owner: "other-host:1:0", leaseSeconds: 3600, onlyFailed: false))
        #expect(try await ledger.claim(owner: "h:2:0", leaseSeconds: 60, onlyFailed: false) == nil, "the lease holds")
        // The lease runs out (a heartbeat of 0 s sets its end to now; no wall-clock wait).
        #expect(try await ledger.heartbeat(index: first.record.chunk.index, token: first.token, leaseSeconds: 0))
        let second = try #require(try await ledger.claim(owner: "h:2:0", leaseSeconds: 60, onlyFailed: false))
        #expect(second.record.chunk.index == first.record.chunk.index)
        #expect(second.tookOverFrom == "other-host:1:0")
        #expect(second.token > first.token)
        #expect(try await ledger.heartbeat(index: 0, token: first.token, leaseSeconds: 60) == false)
        #expect(try await ledger.finish(index: 0, token: first.token, rows: 1, skippedAsPublished: false) == false, "fenced off")
        #expect(try await ledger.finish(index: 0, token: second.token, rows: 3, skippedAsPublished: false))
        let s = try #require(try await ledger.snapshot())
        #expect(s.takeovers == 1)
        #expect(s.chunks[0].owner == "h:2:0")
        #expect(s.chunks[0].rows == 3)
        await cleanUp(kind)
    }

    @Test(arguments: LedgerKind.enabled)
    func aDeadProcessOfThisHostIsTakenOverAtOnce(_ kind: LedgerKind) async throws {
        let ledger = try self.ledger(kind)
        try await ledger.prepare(plan: try plan("3"), configDigest: "c")
        // A pid that cannot be alive: pid_max is at most 4194304.
        let dead = "\(ProcessInfo.processInfo.hostName):99999999:0"
        _ = try #require(try await ledger.claim(owner: dead, leaseSeconds: 3600, onlyFailed: false))
        let taken = try #require(try await ledger.claim(owner: BackfillOwner.make(lane: 0), leaseSeconds: 60, onlyFailed: false))
        #expect(taken.tookOverFrom == dead)
        #expect(!BackfillOwner.isDead(BackfillOwner.make(lane: 3)), "this process is alive")
        await cleanUp(kind)
    }

    @Test(arguments: LedgerKind.enabled)
    func failedChunksRunAgainOnlyWhenAskedAndAloneWithOnlyFailed(_ kind: LedgerKind) async throws {
        let ledger = try self.ledger(kind)
        try await ledger.prepare(plan: try plan("6"), configDigest: "c")
        let a = try #require(try await ledger.claim(owner: "h:1:0", leaseSeconds: 60, onlyFailed: false))
        #expect(try await ledger.fail(index: a.record.chunk.index, token: a.token, error: "boom"))
        let b = try #require(try await ledger.claim(owner: "h:1:0", leaseSeconds: 60, onlyFailed: false))
        #expect(b.record.chunk.index == 1, "a failed chunk is not claimed by a plain run")
        #expect(try await ledger.finish(index: 1, token: b.token, rows: 0, skippedAsPublished: false))
        #expect(try await ledger.claim(owner: "h:1:0", leaseSeconds: 60, onlyFailed: false) == nil)
        let retry = try #require(try await ledger.claim(owner: "h:1:0", leaseSeconds: 60, onlyFailed: true))
        #expect(retry.record.chunk.index == 0)
        #expect(retry.record.attempts == 2)
        #expect(retry.record.error == nil)
        #expect(try await ledger.claim(owner: "h:1:0", leaseSeconds: 60, onlyFailed: true) == nil)
        await cleanUp(kind)
    }

    @Test(arguments: LedgerKind.enabled)
    func thePlanIsFrozenUnderItsId(_ kind: LedgerKind) async throws {
        let ledger = try self.ledger(kind)
        try await ledger.prepare(plan: try plan(), configDigest: "c")
        try await ledger.prepare(plan: try plan(), configDigest: "c")
        let changedPlan = await #expect(throws: DponeError.self) { try await ledger.prepare(plan: try plan(chunk: "2"), configDigest: "c") }
        #expect(changedPlan?.message.contains("different chunk plan") == true)
        #expect(changedPlan?.hint?.contains("new id") == true)
        let changedConfig = await #expect(throws: DponeError.self) { try await ledger.prepare(plan: try plan(), configDigest: "d") }
        #expect(changedConfig?.message.contains("different configuration") == true)
        let fresh = try self.ledger(kind, id: "second")
        try await fresh.prepare(plan: try plan(chunk: "2"), configDigest: "d")
        await cleanUp(kind)
    }

    @Test(arguments: LedgerKind.enabled)
    func cancelStopsClaimsAndKeepsWhatIsDone(_ kind: LedgerKind) async throws {
        let ledger = try self.ledger(kind)
        try await ledger.prepare(plan: try plan(), configDigest: "c")
        let a = try #require(try await ledger.claim(owner: "h:1:0", leaseSeconds: 60, onlyFailed: false))
        #expect(try await ledger.cancel() == 3)
        #expect(try await ledger.claim(owner: "h:1:0", leaseSeconds: 60, onlyFailed: false) == nil)
        #expect(try await ledger.finish(index: a.record.chunk.index, token: a.token, rows: 3, skippedAsPublished: false), "a running chunk finishes")
        let s = try #require(try await ledger.snapshot())
        #expect(s.cancelled)
        #expect(s.count(.done) == 1 && s.count(.cancelled) == 3)
        await cleanUp(kind)
    }

    @Test func theLedgerFileIsOwnerOnly() async throws {
        let ledger = FileBackfillLedger(directory: dir, pipeline: "p", id: "default")
        try await ledger.prepare(plan: try plan(), configDigest: "c")
        let attributes = try FileManager.default.attributesOfItem(atPath: ledger.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }
}
