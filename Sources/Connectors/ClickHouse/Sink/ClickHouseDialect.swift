import ConnectorKit
import Flow

/// How a ClickHouse target does each step of the staged publish (`StagedTableDriver`): no
/// transaction, so every publishing step is set-based or tagged with the checkpoint and safe to
/// repeat after a crash (see `ClickHouseSink`).
struct ClickHouseDialect: TargetDialect {
    let sink: ClickHouseSink
    let client: ClickHouseClient
    let plan: ClickHousePublishPlan
    /// cdc_apply: the lsn the ledger records as applied.
    private var appliedLSN: Int64 = 0

    init(sink: ClickHouseSink, client: ClickHouseClient, plan: ClickHousePublishPlan) {
        self.sink = sink
        self.client = client
        self.plan = plan
    }

    var publishesInOneTransaction: Bool { false }
    var targetName: String { plan.target.description }
    var ledgerName: String { sink.options.ledger.description }

    func begin() async throws {}
    func commit() async throws {}
    func rollback() async {}

    func readLedger(_ context: CheckpointContext) async throws -> (published: SinkCommit?, newest: CheckpointID?) {
        let ledger = sink.ledger
        let newest = UInt64(try await client.queryRows(ledger.newestSQL(context.pipeline)).first?.first ?? "")
        return (try await ledger.lookup(context, on: client), newest.flatMap { $0 > 0 ? CheckpointID($0) : nil })
    }

    func checkStaging(_ context: CheckpointContext) async throws -> [StagingViolation] {
        var violations: [StagingViolation] = []
        for check in plan.checks() {
            let count = try await sink.scalar(check.sql, on: client)
            if count > 0 {
                violations.append(
                    StagingViolation(what: check.what, count: count, hint: "deduplicate the source or fix the unique_key / partition options"))
            }
        }
        return violations
    }

    mutating func publish(_ context: CheckpointContext, replay: Bool) async throws -> SinkCommit {
        guard plan.mode == .cdcApply else { return try await sink.publish(plan, checkpoint: context.id.rawValue, on: client) }
        // A replay is applied again (events above the ledger's applied lsn only), not skipped: it
        // may cover more changes than the first publication.
        let (commit, applied) = try await sink.cdcApply(context, on: client)
        appliedLSN = applied
        return commit
    }

    func recordLedger(_ context: CheckpointContext, _ commit: SinkCommit) async throws {
        try await client.execute(try sink.ledger.recordSQL(context, commit, appliedLSN: appliedLSN))
    }

    func dropStaging() async { await sink.dropAttemptTables(on: client) }
}
