import ConnectorKit
import Flow
import Foundation

/// How BigQuery does each step of the staged publish sequence (`StagedPublishMachine`).
///
/// BigQuery runs a transaction only inside one multi-statement query job, so the steps from `begin`
/// to `commit` are gathered into one script (`BigQueryFinalizer.script`) and sent by `commit`:
/// `BEGIN TRANSACTION`, a guard against a concurrent publication, the strategy's statements, the
/// ledger row, the state row (`target_atomic`), `COMMIT TRANSACTION`, then dropping staging. The
/// reads before it (ledger, staging checks) run as their own queries: staging is private to the
/// attempt, and the guard refuses a ledger that moved in between. A failure anywhere in the script
/// rolls the whole transaction back; a crash after it leaves the ledger row, which a replay finds.
struct BigQueryDialect: TargetDialect {
    let client: BigQueryClient
    let options: BigQuerySinkOptions
    let plan: BigQueryLoadPlan
    /// The script being gathered (nil outside `begin`...`commit`).
    private var transactional: [String]?
    private var after: [String] = []
    /// What the committed script counted (nil until `commit` ran one).
    private(set) var published: PublishedCounts?
    /// Rows the sink sent for this checkpoint (reconciliation).
    let sent: Int
    private var checkpoint = CheckpointID(0)

    /// The script's counts and its reconciliation line, once it ran.
    var committedCounts: SinkCommit? {
        guard let published else { return nil }
        var commit = SinkCommit(inserted: published.inserted, updated: published.updated, deleted: published.deleted)
        commit.reconciliation = [published.reconciliation(target: options.target, checkpoint: checkpoint, staged: sent)]
        return commit
    }

    /// The counts a publish script returns, and its reconciliation figures.
    struct PublishedCounts: Sendable {
        var inserted: Int
        var updated: Int
        var deleted: Int
        /// Rows staged for publishing (after the duplicate policy).
        var staged: Int
        /// Rows of the target inside the strategy's window after publishing; nil for strategies
        /// without one (append).
        var window: Int?

        func reconciliation(target: BigQueryTable, checkpoint: CheckpointID, staged sent: Int) -> String {
            let outcome: String
            if let window {
                outcome = "target window \(window) rows: \(window == staged ? "match" : "MISMATCH")"
            } else {
                outcome = "inserted \(inserted) rows: \(inserted == staged ? "match" : "MISMATCH")"
            }
            return "\(target) checkpoint \(checkpoint): sent \(sent), staged \(staged) rows, \(outcome)"
        }
    }

    init(client: BigQueryClient, options: BigQuerySinkOptions, columns: [String], complete: Bool, sent: Int) {
        self.client = client
        self.options = options
        self.sent = sent
        plan = BigQueryLoadPlan(
            target: options.target, staging: options.staging, columns: columns, uniqueKey: options.uniqueKey, mode: options.mode,
            loadTimestampSQL: BigQueryFinalizer.loadTimestampSQL, complete: complete, stagesOperations: options.stagesOperations)
    }

    var publishesInOneTransaction: Bool { true }
    var targetName: String { options.target.description }
    var ledgerName: String { options.ledger.description }

    mutating func begin() async throws {
        transactional = []
        after = []
    }

    mutating func commit() async throws {
        guard let statements = transactional else { throw DponeError(.internal, "BigQuery commit without begin") }
        transactional = nil
        let script = BigQueryFinalizer.script(transactional: statements, after: after)
        // A kill here leaves the script to finish on the server: the replay finds its ledger row.
        let result = try await client.query(script, what: "publishing \(options.target)") { FaultPoint.midFinalize.trigger() }
        guard let row = result.rows.first, row.count >= 5 else {
            throw DponeError(.sink, "BigQuery answered the publish script of \(options.target) without its counts")
        }
        func int(_ i: Int) -> Int? { row[i].flatMap { Int($0) } }
        published = PublishedCounts(
            inserted: int(0) ?? 0, updated: int(1) ?? 0, deleted: int(2) ?? 0, staged: int(3) ?? 0, window: int(4))
    }

    mutating func rollback() async {
        // Nothing was sent: the gathered script is dropped.
        transactional = nil
        after = []
    }

    mutating func readLedger(_ context: CheckpointContext) async throws -> (published: SinkCommit?, newest: CheckpointID?) {
        checkpoint = context.id
        let rows = try await client.query(
            BigQueryLedger.row(options.ledger, pipeline: context.pipeline, target: options.target, checkpoint: context.id.rawValue),
            what: "reading the ledger \(options.ledger)"
        ).rows
        let newest = try await client.query(
            BigQueryLedger.newest(options.ledger, pipeline: context.pipeline, target: options.target), what: "reading the ledger \(options.ledger)"
        ).rows.first?.first.flatMap { $0 }.flatMap(UInt64.init).map(CheckpointID.init)
        guard let row = rows.first else {
            transactional?.append(
                contentsOf: BigQueryLedger.guardUnpublished(options.ledger, pipeline: context.pipeline, target: options.target, checkpoint: context.id.rawValue))
            return (nil, newest)
        }
        return (try SinkCommit(ledgerRow: row), newest)
    }

    mutating func checkStaging(_ context: CheckpointContext) async throws -> [StagingViolation] {
        if options.keepLastDuplicate, plan.matchesByKey, !plan.uniqueKey.isEmpty {
            try await client.query(BigQueryFinalizer.keepLastPerKey(plan), what: "keeping each key's last row in \(options.staging)")
        }
        let keys = plan.uniqueKey.isEmpty ? "" : " (\(plan.uniqueKey.joined(separator: ", ")))"
        var violations: [StagingViolation] = []
        for check in BigQueryFinalizer.keyChecks(plan) {
            let count = try await client.query(check.sql, what: "checking \(options.staging)").count
            if count > 0 {
                violations.append(StagingViolation(what: check.what + keys, count: count, hint: "deduplicate the source or fix the unique_key"))
            }
        }
        return violations
    }

    mutating func publish(_ context: CheckpointContext, replay: Bool) async throws -> SinkCommit {
        transactional?.append(contentsOf: try BigQueryFinalizer.statements(plan))
        transactional?.append(contentsOf: BigQueryFinalizer.reconciliation(plan))
        // The counts are known once the script ran: `committedCounts`.
        return SinkCommit()
    }

    mutating func recordLedger(_ context: CheckpointContext, _ commit: SinkCommit) async throws {
        let positions = String(decoding: try JSONEncoder().encode(context.positions), as: UTF8.self)
        transactional?.append(
            BigQueryLedger.record(
                options.ledger, pipeline: context.pipeline, target: options.target, checkpoint: context.id.rawValue, loadID: context.loadID,
                runID: context.runID, positions: positions))
    }

    mutating func writeState(_ context: CheckpointContext) async throws {
        guard let table = options.stateTable else { throw DponeError(.internal, "\(targetName) keeps no state table") }
        let document = try BigQueryStateDocument.encode(context)
        transactional?.append(
            contentsOf: BigQueryLedger.writeState(table, pipeline: context.pipeline, checkpoint: context.id.rawValue, document: document))
    }

    mutating func dropStaging() async {
        if transactional != nil {
            after.append("DROP TABLE IF EXISTS \(options.staging.sql)")
        } else {
            _ = try? await client.query("DROP TABLE IF EXISTS \(options.staging.sql)", what: "dropping \(options.staging)")
        }
    }
}
