import ConnectorKit
import Flow
import Foundation
import Logging

/// How a PostgreSQL target does each step of the staged publish (`StagedTableDriver`): one
/// transaction on the sink's connection, every statement on the connection's own thread.
struct PostgresDialect: TargetDialect {
    let connection: PostgresConnection
    let plan: LoadPlan
    let options: PostgresSinkOptions
    let logger: Logger
    /// Columns the source widened: altered first in the publish transaction.
    let widenings: [(change: String, sql: String)]
    /// cdc_apply: a TRUNCATE of the source in this checkpoint, before the events from `sequence` on.
    let truncate: (sequence: Int64, lsn: Int64)?
    /// cdc_apply from a monotonic source: the highest lsn published before this checkpoint.
    private var appliedLSN: String?

    init(
        connection: PostgresConnection, plan: LoadPlan, options: PostgresSinkOptions, logger: Logger,
        widenings: [(change: String, sql: String)] = [], truncate: (sequence: Int64, lsn: Int64)? = nil
    ) {
        self.connection = connection
        self.plan = plan
        self.options = options
        self.logger = logger
        self.widenings = widenings
        self.truncate = truncate
    }

    var publishesInOneTransaction: Bool { true }
    var targetName: String { plan.target.description }
    var ledgerName: String { options.ledger.description }

    func begin() async throws { try await connection.run { try $0.execute("BEGIN") } }

    func commit() async throws { try await connection.run { try $0.execute("COMMIT") } }

    func rollback() async { _ = try? await connection.run { try $0.execute("ROLLBACK") } }

    func readLedger(_ context: CheckpointContext) async throws -> (published: SinkCommit?, newest: CheckpointID?) {
        let ledger = options.ledger
        let target = targetName
        return try await connection.run { session in
            let rows = try session.query(
                "SELECT positions::text, inserted, updated, deleted FROM \(ledger.sql) WHERE pipeline = $1 AND target = $2 AND checkpoint = $3",
                parameters: [context.pipeline, target, String(context.id.rawValue)])
            let newest = try session.query(
                "SELECT max(checkpoint)::text FROM \(ledger.sql) WHERE pipeline = $1 AND target = $2",
                parameters: [context.pipeline, target]
            ).first?.first.flatMap { $0 }.flatMap(UInt64.init).map(CheckpointID.init)
            guard let row = rows.first else { return (nil, newest) }
            let positions = try row[0].map { try JSONDecoder().decode(StateValue.self, from: Data($0.utf8)) }
            let published = SinkCommit(
                inserted: Int(row[1] ?? "0") ?? 0, updated: Int(row[2] ?? "0") ?? 0, deleted: Int(row[3] ?? "0") ?? 0,
                publishedPositions: positions)
            return (published, newest)
        }
    }

    func checkStaging(_ context: CheckpointContext) async throws -> [StagingViolation] {
        let plan = self.plan
        let keepLast = options.keepLastDuplicate
        let logger = self.logger
        return try await connection.run { session in
            if keepLast, plan.mode.refusesDuplicateKeys, !plan.uniqueKey.isEmpty {
                let dropped = try session.query(FinalizerSQL.keepLastPerKey(plan)).first?.first ?? nil
                if let dropped, dropped != "0" {
                    logger.info(
                        "earlier rows of keys staged again were dropped (duplicate_policy last)",
                        metadata: ["table": "\(plan.target)", "checkpoint": "\(context.id)", "rows": "\(dropped)"])
                }
            }
            let keys = plan.uniqueKey.isEmpty ? "" : " (\(plan.uniqueKey.joined(separator: ", ")))"
            return try FinalizerSQL.keyChecks(plan).compactMap { check in
                let count = Int(try session.query(check.sql).first?.first.flatMap { $0 } ?? "0") ?? 0
                guard count > 0 else { return nil }
                return StagingViolation(
                    what: check.what + keys, count: count,
                    hint: "deduplicate the source or fix the unique_key, or set duplicate_policy: last to keep each key's last row")
            }
        }
    }

    mutating func publish(_ context: CheckpointContext, replay: Bool) async throws -> SinkCommit {
        let plan = self.plan
        let options = self.options
        let logger = self.logger
        let widenings = self.widenings
        let truncate = self.truncate
        let (commit, applied) = try await connection.run { session -> (SinkCommit, String?) in
            var counts = Counts()
            for widening in widenings {
                if !widening.sql.isEmpty { try session.execute(widening.sql) }
                logger.notice("evolved the target", metadata: ["table": "\(plan.target)", "change": "\(widening.change)"])
            }
            let cdc = plan.mode == .cdcApply
            // The highest lsn published before (monotonic sources): events at or below it are applied
            // already and leave staging, so a replay is a first application.
            var appliedLSN: String?
            var replayed = false
            if cdc, options.monotonicLSN {
                appliedLSN = try session.query(
                    "SELECT max(applied_lsn)::text FROM \(options.ledger.sql) WHERE pipeline = $1 AND target = $2",
                    parameters: [context.pipeline, plan.target.description]
                ).first?.first ?? nil
                if let appliedLSN {
                    let dropped = try session.query(FinalizerSQL.cdcDropApplied(plan, appliedLSN: appliedLSN)).first?.first ?? nil
                    if let dropped, dropped != "0" {
                        replayed = true
                        logger.notice(
                            "replayed events already applied were skipped",
                            metadata: ["table": "\(plan.target)", "checkpoint": "\(context.id)", "events": "\(dropped)", "applied_lsn": "\(appliedLSN)"])
                    }
                }
            }
            // A TRUNCATE the target has not seen yet (a replayed one is at or below the applied lsn).
            if cdc, let truncate, appliedLSN.flatMap({ Int64($0) }).map({ truncate.lsn > $0 }) ?? true {
                let statements = FinalizerSQL.cdcTruncate(plan, from: truncate.sequence)
                let emptied = Int(try session.query(statements[0]).first?.first.flatMap { $0 } ?? "0") ?? 0
                counts.deleted += emptied
                try session.execute(statements[1])
                logger.notice(
                    "the source table was truncated: the target was emptied",
                    metadata: ["table": "\(plan.target)", "checkpoint": "\(context.id)", "rows": "\(emptied)"])
            }
            if cdc, Int(try session.query(FinalizerSQL.cdcNeedsFill(plan)).first?.first.flatMap { $0 } ?? "0") ?? 0 > 0 {
                try Self.fillUnchangedColumns(plan, in: session)
            }
            if cdc, context.isComplete, !replayed {
                let pruned = Int(try session.query(FinalizerSQL.cdcSnapshotPrune(plan)).first?.first.flatMap { $0 } ?? "0") ?? 0
                counts.deleted += pruned
                if pruned > 0 {
                    logger.notice(
                        "rows absent from the snapshot were deleted (an earlier snapshot of the table was published)",
                        metadata: ["table": "\(plan.target)", "checkpoint": "\(context.id)", "rows": "\(pruned)"])
                }
            }
            for (i, step) in FinalizerSQL.steps(plan).enumerated() {
                counts.record(step.counts, try session.query(step.sql).first)
                if i == 0 { FaultPoint.midFinalize.trigger() }
            }
            var commit = counts.commit(for: plan.mode)
            commit.schemaChanges = widenings.map(\.change)
            return (commit, appliedLSN)
        }
        appliedLSN = applied
        return commit
    }

    /// Rounds of the unchanged-TOAST fill: each resolves one more link of key changes chained within
    /// the checkpoint. A checkpoint chains at most as many links as it has key changes of one row;
    /// this bound only stops a fill that makes no progress.
    static let maximumFillRounds = 32

    private static func fillUnchangedColumns(_ plan: LoadPlan, in session: PostgresSession) throws {
        try session.execute(FinalizerSQL.cdcFillIndex(plan))
        let fill = FinalizerSQL.cdcFillSteps(plan)
        for sql in fill.first { _ = try session.query(sql) }
        for _ in 0..<maximumFillRounds {
            var filled = 0
            for sql in fill.repeated { filled += Int(try session.query(sql).first?.first.flatMap { $0 } ?? "0") ?? 0 }
            if filled == 0 { break }
        }
    }

    func recordLedger(_ context: CheckpointContext, _ commit: SinkCommit) async throws {
        let plan = self.plan
        let ledger = options.ledger
        let retention = options.ledgerRetention
        let positions = String(decoding: try JSONEncoder().encode(context.positions), as: UTF8.self)
        // applied_lsn never goes down (a replay may publish less than the first time).
        let applied =
            plan.mode == .cdcApply && options.monotonicLSN
            ? "(SELECT greatest(\(appliedLSN ?? "NULL")::bigint, max(\(PostgresSQL.quoteIdentifier(TechnicalColumns.lsn)))) FROM \(plan.staging.sql))"
            : "NULL"
        try await connection.run { session in
            _ = try session.query(
                "INSERT INTO \(ledger.sql) AS l (pipeline, target, checkpoint, load_id, run_id, positions, inserted, updated, deleted, applied_lsn) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, \(applied)) ON CONFLICT (pipeline, target, checkpoint) DO UPDATE SET load_id = EXCLUDED.load_id, run_id = EXCLUDED.run_id, positions = EXCLUDED.positions, inserted = EXCLUDED.inserted, updated = EXCLUDED.updated, deleted = EXCLUDED.deleted, committed_at = now(), applied_lsn = greatest(l.applied_lsn, EXCLUDED.applied_lsn)",
                parameters: [
                    context.pipeline, plan.target.description, String(context.id.rawValue), context.loadID, context.runID,
                    positions, String(commit.inserted), String(commit.updated), String(commit.deleted),
                ])
            _ = try session.query(
                "DELETE FROM \(ledger.sql) WHERE pipeline = $1 AND target = $2 AND checkpoint <= $3",
                parameters: [context.pipeline, plan.target.description, String(Int64(context.id.rawValue) - Int64(retention))])
        }
    }

    func writeState(_ context: CheckpointContext) async throws {
        guard let table = options.targetAtomicState else {
            throw DponeError(.internal, "\(targetName) keeps no state table")
        }
        try await connection.run { session in
            let state = PipelineState(
                pipeline: context.pipeline, checkpoint: context.id, source: context.positions, loadID: context.loadID,
                runID: context.runID, committedAt: Timestamps.iso8601())
            try PostgresStateStore.writeState(state, table: table, in: session)
        }
    }

    func dropStaging() async {
        let staging = plan.staging
        _ = try? await connection.run { try $0.execute("DROP TABLE IF EXISTS \(staging.sql)") }
    }
}
