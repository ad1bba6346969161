import ConnectorKit
import Flow
import Foundation
import Manifest

/// The ledger in a JSON file beside the file state store, under an exclusive `flock` for each
/// operation: for every lane and process on one machine (a shared state directory).
public final class FileBackfillLedger: BackfillLedger {
    public let path: String
    private let lockPath: String
    private let directory: String
    private let pipeline: String
    private let id: String
    private let io = DedicatedThread(name: "dpone-backfill-ledger")

    public init(directory: String, pipeline: String, id: String) {
        self.directory = directory
        self.pipeline = pipeline
        self.id = id
        path = "\(directory)/\(pipeline).backfill-\(id).json"
        lockPath = "\(directory)/\(pipeline).backfill-\(id).ledger-lock"
    }

    deinit { io.stop() }

    public var location: String { path }

    public func prepare(plan: BackfillPlan, configDigest: String) async throws {
        let (pipeline, id) = (self.pipeline, self.id)
        try await update { snapshot -> (BackfillLedgerSnapshot?, Void) in
            if let existing = snapshot {
                if let error = Self.mismatch(existing, plan: plan, configDigest: configDigest) { throw error }
                return (existing, ())
            }
            return (
                BackfillLedgerSnapshot(
                    pipeline: pipeline, id: id, planDigest: plan.digest, configDigest: configDigest,
                    createdAt: Date().timeIntervalSince1970, cancelled: false, takeovers: 0,
                    chunks: plan.chunks.map(BackfillChunkRecord.init)),
                ()
            )
        }
    }

    public func claim(owner: String, leaseSeconds: Int, onlyFailed: Bool) async throws -> BackfillClaim? {
        let (pipeline, id) = (self.pipeline, self.id)
        return try await update { snapshot in
            guard var s = snapshot else { throw Self.unprepared(pipeline, id) }
            let claim = BackfillTransitions.claim(&s, owner: owner, leaseSeconds: leaseSeconds, onlyFailed: onlyFailed, now: Date().timeIntervalSince1970)
            return (s, claim)
        }
    }

    public func heartbeat(index: Int, token: Int, leaseSeconds: Int) async throws -> Bool {
        try await transition(index: index, token: token) { r in r.leaseUntil = Date().timeIntervalSince1970 + Double(leaseSeconds) }
    }

    public func finish(index: Int, token: Int, rows: Int, skippedAsPublished: Bool) async throws -> Bool {
        try await transition(index: index, token: token) { r in
            r.status = .done
            r.rows = rows
            r.error = nil
            r.leaseUntil = nil
            r.finishedAt = Date().timeIntervalSince1970
            r.skippedAsPublished = skippedAsPublished ? true : nil
        }
    }

    public func fail(index: Int, token: Int, error: String) async throws -> Bool {
        try await transition(index: index, token: token) { r in
            r.status = .failed
            r.error = error
            r.leaseUntil = nil
            r.finishedAt = Date().timeIntervalSince1970
        }
    }

    public func snapshot() async throws -> BackfillLedgerSnapshot? {
        try await update { snapshot in (snapshot, snapshot) }
    }

    public func cancel() async throws -> Int {
        let (pipeline, id) = (self.pipeline, self.id)
        return try await update { snapshot in
            guard var s = snapshot else { throw Self.unprepared(pipeline, id) }
            let n = BackfillTransitions.cancel(&s)
            return (s, n)
        }
    }

    static func ioError(_ op: String, _ path: String) -> DponeError {
        DponeError(.state, "cannot \(op) the backfill ledger lock \(path): \(String(cString: strerror(errno)))")
    }

    static func unprepared(_ pipeline: String, _ id: String) -> DponeError {
        DponeError(.state, "backfill '\(id)' of pipeline '\(pipeline)' has no ledger yet", hint: "run `dpone batch MANIFEST` to start it")
    }

    /// Applies `change` to the chunk when `token` is still its token (the lane holds it).
    private func transition(index: Int, token: Int, _ change: @escaping @Sendable (inout BackfillChunkRecord) -> Void) async throws -> Bool {
        let (pipeline, id) = (self.pipeline, self.id)
        return try await update { snapshot in
            guard var s = snapshot else { throw Self.unprepared(pipeline, id) }
            guard let i = s.chunks.firstIndex(where: { $0.chunk.index == index }), s.chunks[i].token == token,
                s.chunks[i].status == .running
            else { return (s, false) }
            change(&s.chunks[i])
            return (s, true)
        }
    }

    /// Read-modify-write under the ledger's lock, off the cooperative pool (flock may wait). `body`
    /// returns the new ledger (written when it changed) and the operation's answer.
    private func update<T: Sendable>(
        _ body: @escaping @Sendable (BackfillLedgerSnapshot?) throws -> (BackfillLedgerSnapshot?, T)
    ) async throws -> T {
        let (path, lockPath, directory) = (self.path, self.lockPath, self.directory)
        return try await io.run {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let fd = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw Self.ioError("open", lockPath) }
            defer { close(fd) }
            guard flock(fd, LOCK_EX) == 0 else { throw Self.ioError("lock", lockPath) }
            defer { flock(fd, LOCK_UN) }
            var current: BackfillLedgerSnapshot?
            if let data = FileManager.default.contents(atPath: path) {
                do {
                    current = try JSONDecoder().decode(BackfillLedgerSnapshot.self, from: data)
                } catch {
                    throw DponeError(.state, "the backfill ledger \(path) is not readable: \(error)", hint: "restore it, or start a new backfill id")
                }
            }
            let (next, answer) = try body(current)
            if let next, next != current {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try DurableFile.replace(path: path, directory: directory, contents: try encoder.encode(next))
            }
            return answer
        }
    }
}

