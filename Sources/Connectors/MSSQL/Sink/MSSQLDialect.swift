import ConnectorKit
import Flow
import Foundation
import ODBCConnector

/// How SQL Server does each step of the staged publish sequence (`StagedPublishMachine`): one
/// transaction opened with `SET XACT_ABORT ON`, the T-SQL of `TSQLFinalizer` and `TSQLLedger`.
struct MSSQLDialect: TargetDialect {
    let connection: ODBCConnection
    let options: MSSQLSinkOptions
    let plan: TSQLLoadPlan

    init(connection: ODBCConnection, options: MSSQLSinkOptions, columns: [String], complete: Bool) {
        self.connection = connection
        self.options = options
        plan = TSQLLoadPlan(
            target: options.target, staging: options.staging, columns: columns, uniqueKey: options.uniqueKey, mode: options.mode,
            loadTimestampSQL: "CAST(SYSUTCDATETIME() AS datetime2(7))", complete: complete)
    }

    var publishesInOneTransaction: Bool { true }
    var targetName: String { options.target.description }
    var ledgerName: String { options.ledger.description }

    func begin() async throws {
        for statement in TSQLFinalizer.begin { try await connection.execute(statement) }
    }

    func commit() async throws { try await connection.execute("COMMIT TRANSACTION") }

    func rollback() async { _ = try? await connection.execute("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION") }

    func readLedger(_ context: CheckpointContext) async throws -> (published: SinkCommit?, newest: CheckpointID?) {
        let rows = try await connection.query(
            TSQLLedger.row(options.ledger, pipeline: context.pipeline, target: options.target, checkpoint: context.id.rawValue))
        let newest = try await connection.query(TSQLLedger.newest(options.ledger, pipeline: context.pipeline, target: options.target))
            .first?.first.flatMap { $0 }.flatMap(UInt64.init).map(CheckpointID.init)
        guard let row = rows.first else { return (nil, newest) }
        return (try SinkCommit(ledgerRow: row), newest)
    }

    func checkStaging(_ context: CheckpointContext) async throws -> [StagingViolation] {
        let keys = plan.uniqueKey.isEmpty ? "" : " (\(plan.uniqueKey.joined(separator: ", ")))"
        var violations: [StagingViolation] = []
        for check in TSQLFinalizer.keyChecks(plan) {
            let count = Int(try await connection.query(check.sql).first?.first.flatMap { $0 } ?? "0") ?? 0
            if count > 0 {
                violations.append(
                    StagingViolation(what: check.what + keys, count: count, hint: "deduplicate the source or fix the unique_key"))
            }
        }
        return violations
    }

    func publish(_ context: CheckpointContext, replay: Bool) async throws -> SinkCommit {
        var commit = SinkCommit()
        for step in try TSQLFinalizer.steps(plan) {
            let count: Int
            if step.counts == .previousRows {
                count = Int(try await connection.query(step.sql).first?.first.flatMap { $0 } ?? "0") ?? 0
            } else {
                count = max(0, try await connection.execute(step.sql))
            }
            switch step.counts {
            case .inserted: commit.inserted += count
            case .updated: commit.updated += count
            case .deleted, .previousRows: commit.deleted += count
            case .insertedAndUpdated, nil: break
            }
        }
        return commit
    }

    func recordLedger(_ context: CheckpointContext, _ commit: SinkCommit) async throws {
        let positions = String(decoding: try JSONEncoder().encode(context.positions), as: UTF8.self)
        try await connection.execute(
            TSQLLedger.record(
                options.ledger, pipeline: context.pipeline, target: options.target, checkpoint: context.id.rawValue,
                loadID: context.loadID, runID: context.runID, positions: positions, commit: commit))
    }

    func dropStaging() async { _ = try? await connection.execute("DROP TABLE IF EXISTS \(options.staging.sql)") }
}
