import ConnectorKit
import Flow
import Foundation
import Testing

@testable import BigQueryConnector

/// Every strategy's publish script, the ledger and state statements and the load job JSON against
/// committed golden files (`Golden/*`; `DPONE_UPDATE_GOLDEN=1` rewrites them). The emulator runs the
/// same scripts in the local layer; these pin what real BigQuery is sent.
@Suite("BigQuery golden SQL and requests")
struct BigQueryGoldenTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    func expectGolden(_ name: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = Self.golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["DPONE_UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "Golden/\(name) differs (DPONE_UPDATE_GOLDEN=1 rewrites it)", sourceLocation: sourceLocation)
    }

    static let target = BigQueryTable(project: "acme-prod", dataset: "sales", name: "orders")
    static let staging = target.sibling("__dpone__stg_01J0LOAD_orders")
    static let ledger = target.sibling("__dpone__loads")

    static func plan(_ mode: LoadStrategy, complete: Bool = true, operations: Bool = false) -> BigQueryLoadPlan {
        BigQueryLoadPlan(
            target: target, staging: staging, columns: ["id", "amount", "note"], uniqueKey: ["id"], mode: mode,
            loadTimestampSQL: BigQueryFinalizer.loadTimestampSQL, complete: complete, stagesOperations: operations)
    }

    /// The checks, then the whole script the dialect sends for checkpoint 7.
    static func render(_ plan: BigQueryLoadPlan) throws -> String {
        var lines = BigQueryFinalizer.keyChecks(plan).map { "-- check: \($0.what) = 0\n\($0.sql);" }
        let transactional =
            BigQueryLedger.guardUnpublished(ledger, pipeline: "orders_daily", target: target, checkpoint: 7)
            + (try BigQueryFinalizer.statements(plan)) + BigQueryFinalizer.reconciliation(plan)
            + [
                BigQueryLedger.record(
                    ledger, pipeline: "orders_daily", target: target, checkpoint: 7, loadID: "01J0LOAD", runID: "01J0RUN",
                    positions: #"{"rows":3}"#)
            ]
        lines.append("-- script")
        lines.append(BigQueryFinalizer.script(transactional: transactional, after: ["DROP TABLE IF EXISTS \(staging.sql)"]))
        return lines.joined(separator: "\n") + "\n"
    }

    static let strategies: [(String, BigQueryLoadPlan)] = [
        ("full_refresh", plan(.fullRefresh(.truncateInsert))),
        ("incremental_append", plan(.incrementalAppend(onlyNewRows: false))),
        ("incremental_append_only_new_rows", plan(.incrementalAppend(onlyNewRows: true))),
        ("incremental_merge_delete_insert", plan(.incrementalMerge(.deleteInsert))),
        ("incremental_merge_upsert", plan(.incrementalMerge(.upsert))),
        ("incremental_merge_with_deletes", plan(.incrementalMerge(.deleteInsert), operations: true)),
        ("replace", plan(.replace(predicate: "order_date >= '2026-01-01'"))),
        ("partition_replace", plan(.partitionReplace(column: "order_date", maxPartitions: 31))),
        ("snapshot_diff_hard_delete", plan(.snapshotDiff(.hardDelete))),
        ("snapshot_diff_soft_delete", plan(.snapshotDiff(.softDelete))),
        ("snapshot_diff_partial", plan(.snapshotDiff(.hardDelete), complete: false)),
        ("scd2_expire", plan(.scd2(.expire))),
        ("scd2_partial", plan(.scd2(.expire), complete: false)),
    ]

    @Test(arguments: strategies.map(\.0))
    func strategyScript(_ name: String) throws {
        let plan = try #require(Self.strategies.first { $0.0 == name }?.1)
        try expectGolden("strategy_\(name).sql", try Self.render(plan))
    }

    @Test func partialCheckpointsNeverDeleteOrExpire() throws {
        for (name, plan) in Self.strategies where !plan.complete {
            let script = try Self.render(plan)
            #expect(!script.contains("NOT EXISTS (SELECT 1 FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` AS s"), "\(name)")
        }
    }

    @Test func ledgerStateAndDuplicateStatements() throws {
        let (target, ledger) = (Self.target, Self.ledger)
        let state = target.sibling("__dpone__state")
        let text = [
            BigQueryLedger.ddl(ledger),
            BigQueryLedger.row(ledger, pipeline: "orders_daily", target: target, checkpoint: 7),
            BigQueryLedger.newest(ledger, pipeline: "orders_daily", target: target),
            BigQueryLedger.stateDDL(state),
        ] + BigQueryLedger.writeState(state, pipeline: "orders_daily", checkpoint: 7, document: #"{"checkpoint":7}"#)
            + [BigQueryLedger.readState(state, pipeline: "orders_daily"), BigQueryFinalizer.keepLastPerKey(Self.plan(.incrementalMerge(.deleteInsert)))]
        try expectGolden("ledger_and_state.sql", text.map { $0 + ";" }.joined(separator: "\n") + "\n")
    }

    @Test func loadJobRequest() throws {
        let columns = try BigQueryColumn.columns(
            of: Schema([Field("id", .int64), Field("amount", .decimal(precision: 18, scale: 4)), Field("note", .string), Field("at", .timestamp(withTimeZone: true))]))
        let job = try BigQuerySink.loadJob(staging: Self.staging, columns: columns, stagesOperations: true, location: "EU")
        try expectGolden("load_job.json", String(decoding: job, as: UTF8.self) + "\n")
    }

    @Test func cdcApplyIsRefusedWithTheAlternative() {
        #expect(throws: DponeError.self) { try BigQueryFinalizer.steps(Self.plan(.cdcApply)) }
    }

    @Test func identifiersAndLiteralsAreEscaped() {
        #expect(BigQuerySQL.quote("we`ird\\name") == "`we\\`ird\\\\name`")
        #expect(BigQuerySQL.literal("it's\n\\x") == "'it\\'s\\n\\\\x'")
        #expect(BigQueryTable(project: "p-1", dataset: "d", name: "t").sql == "`p-1`.`d`.`t`")
    }
}
