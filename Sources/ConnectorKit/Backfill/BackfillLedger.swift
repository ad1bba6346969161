import Flow
import Foundation
import Manifest

/// Where a chunk stands in a backfill's ledger.
public enum BackfillChunkStatus: String, Sendable, Codable, CaseIterable {
    case pending, running, done, failed, cancelled
}

/// One chunk's row in the ledger.
public struct BackfillChunkRecord: Sendable, Codable, Equatable {
    public var chunk: BackfillChunk
    public var status: BackfillChunkStatus
    /// The lane holding (or that last held) the chunk: `host:pid:lane`.
    public var owner: String?
    /// The fencing token: raised on every claim. A lane whose token is no longer the chunk's was
    /// fenced off (its lease was taken over) and can no longer record an outcome for it.
    public var token: Int
    /// Seconds since 1970 until which the owner's lease holds (a heartbeat extends it).
    public var leaseUntil: Double?
    public var attempts: Int
    public var rows: Int?
    public var error: String?
    public var startedAt: Double?
    public var finishedAt: Double?
    /// Done without reading: the chunk was found already published (its lane died after publishing).
    public var skippedAsPublished: Bool?

    enum CodingKeys: String, CodingKey {
        case chunk, status, owner, token, attempts, rows, error
        case leaseUntil = "lease_until"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case skippedAsPublished = "skipped_as_published"
    }

    public init(chunk: BackfillChunk) {
        self.chunk = chunk
        status = .pending
        token = 0
        attempts = 0
    }
}

/// A backfill's ledger as a whole, for `dpone backfill status`.
public struct BackfillLedgerSnapshot: Sendable, Codable {
    public var pipeline: String
    public var id: String
    public var planDigest: String
    public var configDigest: String
    public var createdAt: Double
    public var cancelled: Bool
    public var takeovers: Int
    public var chunks: [BackfillChunkRecord]

    enum CodingKeys: String, CodingKey {
        case pipeline, id, cancelled, takeovers, chunks
        case planDigest = "plan_digest"
        case configDigest = "config_digest"
        case createdAt = "created_at"
    }

    public init(
        pipeline: String, id: String, planDigest: String, configDigest: String, createdAt: Double, cancelled: Bool,
        takeovers: Int, chunks: [BackfillChunkRecord]
    ) {
        self.pipeline = pipeline
        self.id = id
        self.planDigest = planDigest
        self.configDigest = configDigest
        self.createdAt = createdAt
        self.cancelled = cancelled
        self.takeovers = takeovers
        self.chunks = chunks
    }

    public func count(_ status: BackfillChunkStatus) -> Int { chunks.count { $0.status == status } }
}

/// A claimed chunk: the lane runs it and reports with `token`.
public struct BackfillClaim: Sendable {
    public var record: BackfillChunkRecord
    public var token: Int
    /// The lane whose expired lease this claim took over; nil for a fresh claim.
    public var tookOverFrom: String?

    public init(record: BackfillChunkRecord, token: Int, tookOverFrom: String?) {
        self.record = record
        self.token = token
        self.tookOverFrom = tookOverFrom
    }
}

/// The durable chunk ledger of one backfill (pipeline + backfill id), shared by every lane of every
/// process that runs it. Each operation is atomic.
public protocol BackfillLedger: Sendable {
    /// Where it lives, for messages.
    var location: String { get }
    /// Creates the ledger with `plan`'s chunks, or checks that the existing one was made from the
    /// same plan and configuration: a different one fails, naming the fix (a new backfill id).
    func prepare(plan: BackfillPlan, configDigest: String) async throws
    /// The next chunk a lane may run: a pending one (or, with `onlyFailed`, a failed one), else one
    /// whose owner's lease expired or whose owner is a dead process on this host (a takeover); nil
    /// when none is left to claim. Failed chunks are claimed only with `onlyFailed`.
    func claim(owner: String, leaseSeconds: Int, onlyFailed: Bool) async throws -> BackfillClaim?
    /// Extends the lease; false when the lane was fenced off.
    func heartbeat(index: Int, token: Int, leaseSeconds: Int) async throws -> Bool
    /// Records the outcome; false (nothing recorded) when the lane was fenced off.
    func finish(index: Int, token: Int, rows: Int, skippedAsPublished: Bool) async throws -> Bool
    func fail(index: Int, token: Int, error: String) async throws -> Bool
    /// The whole ledger; nil when the backfill was never prepared.
    func snapshot() async throws -> BackfillLedgerSnapshot?
    /// Pending and failed chunks to cancelled (running ones finish); returns how many.
    func cancel() async throws -> Int
}

extension BackfillLedger {
    /// The pure transitions every ledger applies (the file ledger to its JSON; a database ledger
    /// mirrors them in SQL).
    public static func mismatch(_ snapshot: BackfillLedgerSnapshot, plan: BackfillPlan, configDigest: String) -> DponeError? {
        guard snapshot.planDigest != plan.digest || snapshot.configDigest != configDigest else { return nil }
        let what = snapshot.planDigest != plan.digest ? "chunk plan (range, chunk size or column)" : "configuration (inner mode, key, source or sink)"
        return DponeError(
            .state,
            "backfill '\(snapshot.id)' of pipeline '\(snapshot.pipeline)' was started with a different \(what)",
            hint: "a backfill's plan is frozen under its id: set sink.strategy.backfill.id to a new id to start another backfill")
    }
}

extension BackfillLedgerSnapshot: Equatable {}

/// The ledger's state machine, shared by the ledgers.
public enum BackfillTransitions {
    public static func claim(
        _ s: inout BackfillLedgerSnapshot, owner: String, leaseSeconds: Int, onlyFailed: Bool, now: Double
    ) -> BackfillClaim? {
        guard !s.cancelled else { return nil }
        let wanted: BackfillChunkStatus = onlyFailed ? .failed : .pending
        var pick = s.chunks.firstIndex { $0.status == wanted }
        var tookOver: String?
        if pick == nil {
            pick = s.chunks.firstIndex { $0.status == .running && (($0.leaseUntil ?? 0) < now || $0.owner.map(BackfillOwner.isDead) == true) }
            if let i = pick {
                tookOver = s.chunks[i].owner ?? "unknown"
                s.takeovers += 1
            }
        }
        guard let i = pick else { return nil }
        s.chunks[i].status = .running
        s.chunks[i].owner = owner
        s.chunks[i].token += 1
        s.chunks[i].attempts += 1
        s.chunks[i].leaseUntil = now + Double(leaseSeconds)
        s.chunks[i].startedAt = now
        s.chunks[i].error = nil
        return BackfillClaim(record: s.chunks[i], token: s.chunks[i].token, tookOverFrom: tookOver)
    }

    public static func cancel(_ s: inout BackfillLedgerSnapshot) -> Int {
        var n = 0
        for i in s.chunks.indices where s.chunks[i].status == .pending || s.chunks[i].status == .failed {
            s.chunks[i].status = .cancelled
            n += 1
        }
        s.cancelled = true
        return n
    }
}

/// Lane identities: `host:pid:lane`.
public enum BackfillOwner {
    public static func make(lane: Int) -> String { "\(ProcessInfo.processInfo.hostName):\(getpid()):\(lane)" }

    /// Whether `owner` names a process of this host that no longer exists (its lease need not
    /// run out: a SIGKILLed run's chunks are taken over at once by the next run here).
    public static func isDead(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":")
        guard parts.count >= 3, String(parts[0]) == ProcessInfo.processInfo.hostName, let pid = Int32(parts[1]) else { return false }
        if pid == getpid() { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}
