import DponeTestSupport
import Flow
import Foundation
import Testing

@testable import ClickHouseConnector

/// Deletes run as lightweight `DELETE FROM` where the server has it, as `ALTER TABLE ... DELETE`
/// mutations on 18.16.
@Suite("ClickHouse sink: lightweight DELETE (SQL)")
struct SinkModernDeleteSQLTests {
    func plan(_ mode: LoadStrategy, lightweight: Bool) -> ClickHousePublishPlan {
        let target = ClickHouseTableName(database: "d", name: "t")
        return ClickHousePublishPlan(
            target: target, staging: target.sibling("stg", loadID: "x"), publish: target.sibling("pub", loadID: "x"),
            displaced: target.sibling("old", loadID: "x"), columns: ["id", "__dpone__row_hash"], uniqueKey: ["id"], mode: mode,
            technicalColumns: ["__dpone__checkpoint"], nullableRequiredColumns: [], lightweightDelete: lightweight)
    }

    @Test func everyDeleteFollowsTheFlag() {
        for lightweight in [false, true] {
            let prefix = lightweight ? "DELETE FROM `d`.`t` WHERE " : "ALTER TABLE `d`.`t` DELETE WHERE "
            let replace = plan(.replace(predicate: "id >= 2"), lightweight: lightweight)
            #expect(replace.replaceDelete("id >= 2") == prefix + "id >= 2")
            #expect(replace.deleteTagged(7) == prefix + "`__dpone__checkpoint` = 7")
            for policy in [DiffDeletePolicy.hardDelete, .softDelete, .ignore] {
                let first = plan(.snapshotDiff(policy), lightweight: lightweight).diffMutations(ts: "now()").first ?? ""
                #expect(first.hasPrefix(prefix), "\(policy): \(first)")
            }
            // scd2 and the soft delete's marking stay ALTER ... UPDATE.
            #expect(plan(.scd2(.expire), lightweight: lightweight).diffMutations(ts: "now()").allSatisfy { $0.hasPrefix("ALTER TABLE `d`.`t` UPDATE") })
            #expect(plan(.snapshotDiff(.softDelete), lightweight: lightweight).diffMutations(ts: "now()").last?.hasPrefix("ALTER TABLE `d`.`t` UPDATE") == true)
        }
    }
}

@Suite("ClickHouse sink: lightweight DELETE (servers)", .tags(.integrationClickHouse), IntegrationGate.integration.trait)
struct SinkModernDeleteTests {
    /// A replace and a snapshot_diff on each server: the modern one deletes with `DELETE FROM` (its
    /// mutation is the `_row_exists` mask), 18.16 with a mutation; the deleted rows are gone from the
    /// counts and rows of the same finalize.
    @Test(arguments: ClickHouseTestServer.all)
    func deletesUseTheServersFlavour(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let lightweight = try await f.admin.serverInfo().supports(.lightweightDelete)
            #expect(lightweight == (server.name != ClickHouseTestServer.legacy.name))
            let mode = LoadStrategy.replace(predicate: "id >= 2")
            _ = try await f.load([(1, "a", 1), (2, "b", 2), (3, "c", 3)], mode: .replace(predicate: "id >= 1"), checkpoint: 1)
            let commit = try await f.load([(2, "B", 20)], mode: mode, checkpoint: 2)
            #expect(commit.inserted == 1 && commit.deleted == 2, "\(commit)")
            #expect(try await f.rows(columns: "id, name") == [["1", "a"], ["2", "B"]])
            let commands = try await f.admin.queryRows(
                "SELECT command FROM system.mutations WHERE database = '\(f.database)' AND table = 'target'").compactMap(\.first)
            #expect(commands.count == 2, "\(commands)")  // the replace of each checkpoint
            #expect(commands.allSatisfy { $0.contains("_row_exists") == lightweight }, "\(commands)")
            #expect(try await f.stagingTables() == "0")
        }
    }
}
