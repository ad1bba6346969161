import ConnectorKit
import Flow
import Foundation
import Testing

@testable import MSSQLConnector

/// The T-SQL of every strategy, type, ledger, state and CDC statement against committed golden
/// files (`Golden/*.sql`; `DPONE_UPDATE_GOLDEN=1` rewrites them). No SQL Server runs here: these
/// are the contract the live layer (`DPONE_RUN_INTEGRATION_LIVE=1`) runs against a real server.
@Suite struct TSQLGoldenTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// Compares `text` with `Golden/<name>.sql`, or writes it when updating.
    func expectGolden(_ name: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = Self.golden.appendingPathComponent("\(name).sql")
        if ProcessInfo.processInfo.environment["DPONE_UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "Golden/\(name).sql differs (DPONE_UPDATE_GOLDEN=1 rewrites it)", sourceLocation: sourceLocation)
    }

    static let target = TSQLTable(schema: "sales", name: "orders")
    static let staging = TSQLTable(schema: "sales", name: "__dpone__stg_01J0LOAD_orders")
    static let timestamp = TSQL.datetime2(micros: 1_780_000_000_123_456)

    func plan(_ mode: LoadStrategy, complete: Bool = true, columns: [String] = ["id", "amount", "note"]) -> TSQLLoadPlan {
        TSQLLoadPlan(
            target: Self.target, staging: Self.staging, columns: columns, uniqueKey: ["id"], mode: mode,
            loadTimestampSQL: Self.timestamp, complete: complete)
    }

    /// A plan's checks and steps, one statement per line, with what each count means.
    func render(_ plan: TSQLLoadPlan) throws -> String {
        var lines = TSQLFinalizer.begin.map { "-- begin\n\($0);" }
        for check in TSQLFinalizer.keyChecks(plan) { lines.append("-- check: \(check.what) = 0\n\(check.sql);") }
        for step in try TSQLFinalizer.steps(plan) {
            lines.append("-- step\(step.counts.map { " (counts \($0))" } ?? "")\n\(step.sql);")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let strategies: [(String, LoadStrategy, Bool)] = [
        ("full_refresh_truncate_insert", .fullRefresh(.truncateInsert), true),
        ("full_refresh_exchange", .fullRefresh(.exchange), true),
        ("incremental_append", .incrementalAppend(onlyNewRows: false), true),
        ("incremental_append_only_new_rows", .incrementalAppend(onlyNewRows: true), true),
        ("incremental_merge_delete_insert", .incrementalMerge(.deleteInsert), true),
        ("incremental_merge_upsert", .incrementalMerge(.upsert), true),
        ("replace", .replace(predicate: "order_date >= '2026-01-01'"), true),
        ("partition_replace", .partitionReplace(column: "order_date", maxPartitions: 31), true),
        ("snapshot_diff_hard_delete", .snapshotDiff(.hardDelete), true),
        ("snapshot_diff_soft_delete", .snapshotDiff(.softDelete), true),
        ("snapshot_diff_partial", .snapshotDiff(.hardDelete), false),
        ("scd2_expire", .scd2(.expire), true),
        ("scd2_partial", .scd2(.expire), false),
    ]

    @Test(arguments: Self.strategies.map(\.0))
    func everyStrategysStatements(_ name: String) throws {
        let (_, mode, complete) = Self.strategies.first { $0.0 == name }!
        var columns = ["id", "amount", "note"]
        if case .snapshotDiff = mode { columns.append(TechnicalColumns.rowHash) }
        if case .scd2 = mode { columns.append(TechnicalColumns.rowHash) }
        if case .partitionReplace = mode { columns.append("order_date") }
        try expectGolden("strategy_\(name)", try render(plan(mode, complete: complete, columns: columns)))
    }

    /// A partial checkpoint never deletes or expires: the last step of a complete one is missing.
    @Test func partialCheckpointsNeverDeleteOrExpire() throws {
        for mode in [LoadStrategy.snapshotDiff(.hardDelete), .snapshotDiff(.softDelete), .scd2(.expire)] {
            let complete = try TSQLFinalizer.steps(plan(mode))
            let partial = try TSQLFinalizer.steps(plan(mode, complete: false))
            #expect(partial.count == complete.count - 1)
            #expect(!partial.contains { $0.counts == .deleted })
        }
    }

    @Test func noMergeStatementAnywhere() throws {
        for (_, mode, complete) in Self.strategies {
            for step in try TSQLFinalizer.steps(plan(mode, complete: complete)) {
                #expect(!step.sql.uppercased().hasPrefix("MERGE"), "\(step.sql)")
                #expect(!step.sql.uppercased().contains(" MERGE "), "\(step.sql)")
            }
        }
    }

    @Test func everyTypesDDL() throws {
        let types: [LogicalType] = [
            .bool, .int16, .int32, .int64, .float32, .float64, .decimal(precision: 38, scale: 9), .numeric, .string, .bytes,
            .date, .time, .timestamp(withTimeZone: false), .timestamp(withTimeZone: true), .uuid, .json, .list(.int32),
        ]
        let schema = Schema(types.enumerated().map { Field("c\($0.offset)_\($0.element)", $0.element, nullable: $0.offset != 0) })
        try expectGolden("types_create_table", TSQLTypes.createTable(TSQLTable(schema: "dbo", name: "all types"), schema) + ";\n")
    }

    @Test func ledgerAndStateStatements() throws {
        let ledger = TSQLTable(schema: "sales", name: "__dpone__loads")
        let text = [
            TSQLLedger.ddl(ledger),
            TSQLLedger.row(ledger, pipeline: "orders'daily", target: Self.target, checkpoint: 42),
            TSQLLedger.newest(ledger, pipeline: "orders'daily", target: Self.target),
            TSQLLedger.record(
                ledger, pipeline: "orders'daily", target: Self.target, checkpoint: 42, loadID: "01J0LOAD", runID: "01J0RUN",
                positions: #"{"cursor":{"column":"id","value":"7"}}"#, commit: SinkCommit(inserted: 3, updated: 2, deleted: 1)),
            TSQLLedger.stateDDL(),
            TSQLLedger.writeState(pipeline: "orders'daily", checkpoint: 42, document: #"{"checkpoint":42}"#),
            TSQLLedger.readState(pipeline: "orders'daily"),
        ].map { $0 + ";" }.joined(separator: "\n") + "\n"
        try expectGolden("ledger_and_state", text)
    }

    @Test func cdcWindowStatements() throws {
        let lsnA: [UInt8] = [0, 0, 0, 0x2A, 0, 0, 0x01, 0xA8, 0, 3]
        let lsnB: [UInt8] = [0, 0, 0, 0x2B, 0, 0, 0x00, 0x10, 0, 1]
        let text = [
            TSQLCDC.minLSN(captureInstance: "sales_orders"),
            TSQLCDC.maxLSN,
            TSQLCDC.window(captureInstance: "sales_orders", columns: ["id", "amount"], after: nil, upTo: lsnA),
            TSQLCDC.window(captureInstance: "sales_orders", columns: ["id", "amount"], after: lsnA, upTo: lsnB),
        ].map { $0 + ";" }.joined(separator: "\n") + "\n"
        try expectGolden("cdc_windows", text)
        #expect(TSQLCDC.operation(3) == nil, "the before image of an update is not applied")
        #expect(TSQLCDC.operation(1) == .delete && TSQLCDC.operation(4) == .upsert)
    }

    @Test func aCleanedUpPositionAsksForAResync() {
        let stored: [UInt8] = [0, 0, 0, 0x10, 0, 0, 0, 0, 0, 1]
        let oldest: [UInt8] = [0, 0, 0, 0x2A, 0, 0, 0, 0, 0, 1]
        #expect(throws: DponeError.self) { try TSQLCDC.checkRetention(stored: stored, min: oldest, captureInstance: "dbo_t") }
        #expect(throws: Never.self) { try TSQLCDC.checkRetention(stored: oldest, min: oldest, captureInstance: "dbo_t") }
        do {
            try TSQLCDC.checkRetention(stored: stored, min: oldest, captureInstance: "dbo_t")
        } catch let error as DponeError {
            #expect(error.hint?.contains("resync") == true)
            #expect(error.message.contains("0x00000010000000000001") && error.message.contains("0x0000002A000000000001"))
        } catch {}
    }

    @Test func quotingAndLiterals() {
        #expect(TSQL.quote("a]b") == "[a]]b]")
        #expect(TSQL.literal("it's 日本") == "N'it''s 日本'")
        #expect(TSQLTable(name: "t").sql == "[dbo].[t]")
        #expect(TSQL.lsn([0, 0x0A, 0xFF]) == "0x000AFF")
    }

    @Test func clickHousePoliciesAndUnbuiltModesAreRefused() {
        #expect(throws: DponeError.self) { try TSQLFinalizer.steps(plan(.incrementalMerge(.replacingMergeTree))) }
        #expect(throws: DponeError.self) { try TSQLFinalizer.steps(plan(.cdcApply)) }
    }
}
