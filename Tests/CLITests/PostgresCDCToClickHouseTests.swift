import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

extension PostgresCDCStreamTests {
    /// The source's rows as comparable text: id, name, amount in cents, md5 of the big text.
    func sourceRows(_ pg: PostgresConnection) async throws -> [[String?]] {
        try await pg.query(
            "SELECT src.id::text, name, ((amount * 100)::bigint)::text, md5(big) FROM \(s).src ORDER BY src.id")
    }

    /// The ClickHouse target's live rows as readers query them (`FINAL`, tombstones filtered).
    func clickHouseRows(_ ch: ClickHouseClient, _ database: String) async throws -> [[String?]] {
        let rows = try await ch.queryNullableRows(
            "SELECT toString(id), name, toString(toInt64(amount * 100)), lower(hex(MD5(big))) FROM `\(database)`.`dst` FINAL WHERE __dpone__is_deleted = 0")
        // Sorted here by the numeric id, as the source's ORDER BY id.
        return rows.sorted { (Int($0.first.flatMap { $0 } ?? "") ?? 0) < (Int($1.first.flatMap { $0 } ?? "") ?? 0) }
    }

    /// The cdc_apply ClickHouse sink section for `dst` in `database`.
    func clickHouseSink(_ server: ClickHouseTestServer, _ database: String) -> String {
        "{type: clickhouse, connection: {url: \"\(server.url)\"}, table: {schema: \(database), name: dst}, strategy: {mode: cdc_apply, unique_key: id}}"
    }

    func convergeClickHouse(_ pg: PostgresConnection, _ ch: ClickHouseClient, _ database: String, seconds: Double = 90) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let target = try? await clickHouseRows(ch, database), try await sourceRows(pg) == target { return true }
            try await Task.sleep(for: .milliseconds(300))
        }
        return false
    }

    /// PG CDC -> ClickHouse cdc_apply on 18.16 and the modern engine: the snapshot, a mixed workload
    /// (unchanged TOAST, deletes, key changes, several changes of a key in one transaction) while the
    /// stream runs, a kill between publish and state on the third checkpoint and a restart; the
    /// live rows (`FINAL`, tombstones filtered) equal the source exactly, and the slot was never
    /// confirmed past the state.
    @Test(arguments: ClickHouseTestServer.all)
    func changesToClickHouseConvergeAcrossAKill(_ server: ClickHouseTestServer) async throws {
        try PostgresTestServer.require()
        try server.require()
        let database = ClickHouseTestServer.uniqueDatabaseName("pgcdc")
        let ch = try ClickHouseClient(url: server.url)
        try await withDatabase { pg in
            try await setUp(pg)
            let path = try manifest(sink: clickHouseSink(server, database))
            let writer = try await PostgresConnection.connect(url: url)
            let (workload, stop) = startWorkload(writer)
            let doomed = try StreamProcess(
                ["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/ch-fault.log",
                environment: ["DPONE_FAULT": FaultPoint.afterFinalizeBeforeState.rawValue, "DPONE_FAULT_AFTER": "2"])
            try await doomed.awaitFaultKill(.afterFinalizeBeforeState)
            #expect(doomed.process.terminationReason == .uncaughtSignal, "killed: \(doomed.output)")
            try await expectSlotWithinState(pg, "after the kill: \(doomed.output)")
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/ch-restart.log")
            try await Task.sleep(for: .seconds(1))
            stop.set()
            let steps = try await workload.value
            await writer.close()
            #expect(steps > 10, "the workload ran (\(steps) steps)")
            let converged = try await convergeClickHouse(pg, ch, database)
            #expect(converged, "after the restart: \(worker.output)")
            if !converged {
                let want = try await sourceRows(pg)
                let got = try await clickHouseRows(ch, database)
                let missing = want.filter { !got.contains($0) }.prefix(5)
                let extra = got.filter { !want.contains($0) }.prefix(5)
                let first = zip(want, got).first { $0.0 != $0.1 }.map { "\($0.0) vs \($0.1)" } ?? "none"
                Issue.record("source \(want.count) rows, target \(got.count); missing \(Array(missing)); extra \(Array(extra)); first difference \(first)")
            }
            #expect(await worker.stop() == 0, "\(worker.output)")
        }
        try? await ch.execute("DROP DATABASE IF EXISTS `\(database)`", idempotent: true)
        await ch.close()
    }

    /// Killed after the snapshot was published into ClickHouse but before its state was written:
    /// the restart's new snapshot retires (tombstones) the keys deleted in between, so the live
    /// rows equal the source.
    @Test(arguments: ClickHouseTestServer.all)
    func aSnapshotPublishedButNotRecordedIsTakenAgainIntoClickHouse(_ server: ClickHouseTestServer) async throws {
        try PostgresTestServer.require()
        try server.require()
        let database = ClickHouseTestServer.uniqueDatabaseName("pgsnap")
        let ch = try ClickHouseClient(url: server.url)
        try await withDatabase { pg in
            try await setUp(pg)
            let path = try manifest(sink: clickHouseSink(server, database))
            try await killAfterTheSnapshotIsPublishedThenChange(pg, path: path) {
                try await clickHouseRows(ch, database) == sourceRows(pg)
            }
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/snap-ch-restart.log")
            #expect(try await convergeClickHouse(pg, ch, database, seconds: 60), "after the second snapshot: \(worker.output)")
            #expect(try await clickHouseRows(ch, database).count == 271)
            #expect(await worker.stop() == 0, "\(worker.output)")
        }
        try? await ch.execute("DROP DATABASE IF EXISTS `\(database)`", idempotent: true)
        await ch.close()
    }
}
