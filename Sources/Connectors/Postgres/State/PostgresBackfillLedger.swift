import ConnectorKit
import Flow
import Foundation
import Manifest

/// The chunk ledger of a backfill in the PostgreSQL state store's schema, for lanes on any number of
/// machines: `__dpone__backfills` (one row per pipeline and backfill id: digests, cancelled,
/// takeovers) and `__dpone__backfill_chunks` (one row per chunk).
///
/// - A claim is one transaction: `SELECT ... FOR UPDATE SKIP LOCKED` picks a pending chunk (or,
///   when none is left, a running one whose lease ran out on the server's clock, or whose owner is
///   a dead process of this host), and the same transaction raises its fencing token and sets the
///   lease. Two lanes never claim one chunk; a lane waiting on another's row lock skips it.
/// - Leases are measured with the server's `now()`, so machines with skewed clocks agree.
/// - `finish`, `fail` and `heartbeat` change the row only while the lane's token is the chunk's.
/// - The tables are created on `prepare` under a transaction-scoped advisory lock: two processes
///   starting one backfill together do not race on `CREATE TABLE IF NOT EXISTS`.
public final class PostgresBackfillLedger: BackfillLedger {
    let backfills: TableName
    let chunks: TableName
    let pipeline: String
    let id: String
    let server: String
    let connection: StateConnection

    public init(url: String, stateTable: TableName, pipeline: String, id: String) {
        backfills = TableName(schema: stateTable.schema, name: "__dpone__backfills")
        chunks = TableName(schema: stateTable.schema, name: "__dpone__backfill_chunks")
        self.pipeline = pipeline
        self.id = id
        server = StateLocation.server(url: url)
        connection = StateConnection(url: url)
    }

    public var location: String { "\(server) \(chunks.description) (\(pipeline), backfill \(id))" }

    public func prepare(plan: BackfillPlan, configDigest: String) async throws {
        let (backfills, chunks, pipeline, id) = (self.backfills, self.chunks, self.pipeline, self.id)
        try await connection.run("prepare the backfill ledger in", at: location) { session in
            try session.execute("BEGIN")
            do {
                _ = try session.query("SELECT pg_advisory_xact_lock(hashtextextended('dpone-backfill-bootstrap', 0))")
                try session.execute("CREATE SCHEMA IF NOT EXISTS \(PostgresSQL.quoteIdentifier(backfills.schema))")
                try session.execute(
                    """
                    CREATE TABLE IF NOT EXISTS \(backfills.sql) (pipeline text NOT NULL, backfill_id text NOT NULL,
                      plan_digest text NOT NULL, config_digest text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                      cancelled boolean NOT NULL DEFAULT false, takeovers bigint NOT NULL DEFAULT 0,
                      PRIMARY KEY (pipeline, backfill_id))
                    """)
                try session.execute(
                    """
                    CREATE TABLE IF NOT EXISTS \(chunks.sql) (pipeline text NOT NULL, backfill_id text NOT NULL, chunk integer NOT NULL,
                      lower_bound text NOT NULL, upper_bound text NOT NULL, upper_inclusive boolean NOT NULL,
                      status text NOT NULL DEFAULT 'pending', owner text, token bigint NOT NULL DEFAULT 0,
                      lease_until timestamptz, attempts integer NOT NULL DEFAULT 0, rows bigint, error text,
                      started_at timestamptz, finished_at timestamptz, skipped_as_published boolean,
                      PRIMARY KEY (pipeline, backfill_id, chunk))
                    """)
                let existing = try session.query(
                    "SELECT plan_digest, config_digest FROM \(backfills.sql) WHERE pipeline = $1 AND backfill_id = $2",
                    parameters: [pipeline, id])
                if let row = existing.first {
                    let snapshot = BackfillLedgerSnapshot(
                        pipeline: pipeline, id: id, planDigest: row[0] ?? "", configDigest: row[1] ?? "", createdAt: 0,
                        cancelled: false, takeovers: 0, chunks: [])
                    if let error = Self.mismatch(snapshot, plan: plan, configDigest: configDigest) { throw error }
                } else {
                    _ = try session.query(
                        "INSERT INTO \(backfills.sql) (pipeline, backfill_id, plan_digest, config_digest) VALUES ($1, $2, $3, $4)",
                        parameters: [pipeline, id, plan.digest, configDigest])
                    _ = try session.query(
                        """
                        INSERT INTO \(chunks.sql) (pipeline, backfill_id, chunk, lower_bound, upper_bound, upper_inclusive)
                        SELECT $1, $2, c.n::integer - 1, c.lo, c.hi, $5::boolean
                        FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS c(lo, hi, n)
                        """,
                        parameters: [
                            pipeline, id, Self.arrayLiteral(plan.chunks.map(\.lower)), Self.arrayLiteral(plan.chunks.map(\.upper)),
                            plan.domain == .integer ? "true" : "false",
                        ])
                }
                try session.execute("COMMIT")
            } catch {
                try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func claim(owner: String, leaseSeconds: Int, onlyFailed: Bool) async throws -> BackfillClaim? {
        let (backfills, chunks, pipeline, id) = (self.backfills, self.chunks, self.pipeline, self.id)
        return try await connection.run("claim a backfill chunk in", at: location) { session -> BackfillClaim? in
            try session.execute("BEGIN")
            do {
                let key = [pipeline, id]
                let cancelled = try session.query(
                    "SELECT cancelled FROM \(backfills.sql) WHERE pipeline = $1 AND backfill_id = $2", parameters: key).first?.first
                guard cancelled == "f" else {
                    try session.execute("COMMIT")
                    return nil
                }
                var pick = try session.query(
                    "SELECT chunk FROM \(chunks.sql) WHERE pipeline = $1 AND backfill_id = $2 AND status = $3 ORDER BY chunk LIMIT 1 FOR UPDATE SKIP LOCKED",
                    parameters: key + [onlyFailed ? "failed" : "pending"]
                ).first?.first.flatMap { $0.flatMap { Int($0) } }
                var tookOver: String?
                if pick == nil {
                    let running = try session.query(
                        """
                        SELECT chunk, owner, lease_until < now() FROM \(chunks.sql)
                        WHERE pipeline = $1 AND backfill_id = $2 AND status = 'running' ORDER BY chunk FOR UPDATE SKIP LOCKED
                        """, parameters: key)
                    if let row = running.first(where: { $0[2] == "t" || ($0[1]).map(BackfillOwner.isDead) == true }) {
                        pick = row[0].flatMap { Int($0) }
                        tookOver = row[1] ?? "unknown"
                    }
                }
                guard let chunk = pick else {
                    try session.execute("COMMIT")
                    return nil
                }
                let row = try session.query(
                    """
                    UPDATE \(chunks.sql) SET status = 'running', owner = $4, token = token + 1, attempts = attempts + 1,
                      lease_until = now() + make_interval(secs => $5::double precision), started_at = now(), error = NULL
                    WHERE pipeline = $1 AND backfill_id = $2 AND chunk = $3::integer
                    RETURNING lower_bound, upper_bound, upper_inclusive, token, attempts, extract(epoch FROM lease_until), extract(epoch FROM started_at)
                    """, parameters: key + ["\(chunk)", owner, "\(leaseSeconds)"])[0]
                if tookOver != nil {
                    _ = try session.query(
                        "UPDATE \(backfills.sql) SET takeovers = takeovers + 1 WHERE pipeline = $1 AND backfill_id = $2", parameters: key)
                }
                try session.execute("COMMIT")
                var record = BackfillChunkRecord(
                    chunk: BackfillChunk(index: chunk, lower: row[0] ?? "", upper: row[1] ?? "", upperInclusive: row[2] == "t"))
                record.status = .running
                record.owner = owner
                record.token = Int(row[3] ?? "0") ?? 0
                record.attempts = Int(row[4] ?? "0") ?? 0
                record.leaseUntil = row[5].flatMap { Double($0) }
                record.startedAt = row[6].flatMap { Double($0) }
                return BackfillClaim(record: record, token: record.token, tookOverFrom: tookOver)
            } catch {
                try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func heartbeat(index: Int, token: Int, leaseSeconds: Int) async throws -> Bool {
        try await held(index: index, token: token, "lease_until = now() + make_interval(secs => $5::double precision)", ["\(leaseSeconds)"])
    }

    public func finish(index: Int, token: Int, rows: Int, skippedAsPublished: Bool) async throws -> Bool {
        try await held(
            index: index, token: token,
            "status = 'done', rows = $5::bigint, error = NULL, lease_until = NULL, finished_at = now(), skipped_as_published = $6::boolean",
            ["\(rows)", skippedAsPublished ? "true" : nil])
    }

    public func fail(index: Int, token: Int, error: String) async throws -> Bool {
        try await held(index: index, token: token, "status = 'failed', error = $5, lease_until = NULL, finished_at = now()", [error])
    }

    /// `UPDATE ... SET <assignments>` of the chunk while `token` is its token and it runs; whether
    /// it did (false: the lane was fenced off).
    private func held(index: Int, token: Int, _ assignments: String, _ values: [String?]) async throws -> Bool {
        let (chunks, pipeline, id) = (self.chunks, self.pipeline, self.id)
        return try await connection.run("record a backfill chunk in", at: location) { session in
            try !session.query(
                """
                UPDATE \(chunks.sql) SET \(assignments)
                WHERE pipeline = $1 AND backfill_id = $2 AND chunk = $3::integer AND token = $4::bigint AND status = 'running'
                RETURNING 1
                """, parameters: [pipeline, id, "\(index)", "\(token)"] + values
            ).isEmpty
        }
    }

    public func snapshot() async throws -> BackfillLedgerSnapshot? {
        let (backfills, chunks, pipeline, id) = (self.backfills, self.chunks, self.pipeline, self.id)
        return try await connection.run("read the backfill ledger in", at: location) { session -> BackfillLedgerSnapshot? in
            let head: [[String?]]
            do {
                head = try session.query(
                    """
                    SELECT plan_digest, config_digest, extract(epoch FROM created_at), cancelled, takeovers
                    FROM \(backfills.sql) WHERE pipeline = $1 AND backfill_id = $2
                    """, parameters: [pipeline, id])
            } catch let error as PostgresError where error.sqlState == "42P01" || error.sqlState == "3F000" {
                return nil
            }
            guard let h = head.first else { return nil }
            let rows = try session.query(
                """
                SELECT chunk, lower_bound, upper_bound, upper_inclusive, status, owner, token, extract(epoch FROM lease_until),
                  attempts, rows, error, extract(epoch FROM started_at), extract(epoch FROM finished_at), skipped_as_published
                FROM \(chunks.sql) WHERE pipeline = $1 AND backfill_id = $2 ORDER BY chunk
                """, parameters: [pipeline, id])
            let records = rows.map { r -> BackfillChunkRecord in
                var record = BackfillChunkRecord(
                    chunk: BackfillChunk(index: Int(r[0] ?? "0") ?? 0, lower: r[1] ?? "", upper: r[2] ?? "", upperInclusive: r[3] == "t"))
                record.status = BackfillChunkStatus(rawValue: r[4] ?? "") ?? .pending
                record.owner = r[5]
                record.token = Int(r[6] ?? "0") ?? 0
                record.leaseUntil = r[7].flatMap { Double($0) }
                record.attempts = Int(r[8] ?? "0") ?? 0
                record.rows = r[9].flatMap { Int($0) }
                record.error = r[10]
                record.startedAt = r[11].flatMap { Double($0) }
                record.finishedAt = r[12].flatMap { Double($0) }
                record.skippedAsPublished = r[13] == "t" ? true : nil
                return record
            }
            return BackfillLedgerSnapshot(
                pipeline: pipeline, id: id, planDigest: h[0] ?? "", configDigest: h[1] ?? "", createdAt: h[2].flatMap { Double($0) } ?? 0,
                cancelled: h[3] == "t", takeovers: Int(h[4] ?? "0") ?? 0, chunks: records)
        }
    }

    public func cancel() async throws -> Int {
        let (backfills, chunks, pipeline, id) = (self.backfills, self.chunks, self.pipeline, self.id)
        return try await connection.run("cancel the backfill in", at: location) { session in
            try session.execute("BEGIN")
            do {
                _ = try session.query(
                    "UPDATE \(backfills.sql) SET cancelled = true WHERE pipeline = $1 AND backfill_id = $2", parameters: [pipeline, id])
                let n = try session.query(
                    """
                    UPDATE \(chunks.sql) SET status = 'cancelled'
                    WHERE pipeline = $1 AND backfill_id = $2 AND status IN ('pending', 'failed') RETURNING 1
                    """, parameters: [pipeline, id]
                ).count
                try session.execute("COMMIT")
                return n
            } catch {
                try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// A PostgreSQL text array literal (`{"a","b"}`), each element quoted with `"` and `\` escaped.
    static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }
}
