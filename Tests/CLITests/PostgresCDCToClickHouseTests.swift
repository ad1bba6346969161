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

    /// Requires both servers, sets `src` up, writes the manifest of a stream into a fresh ClickHouse
    /// database (`prefix`...), runs `body` with the source connection, the client, the database and
    /// the manifest's path, and drops the database afterwards.
    func withClickHouseTarget(
        _ server: ClickHouseTestServer, _ prefix: String, cdc: String = "",
        _ body: (PostgresConnection, ClickHouseClient, String, String) async throws -> Void
    ) async throws {
        try PostgresTestServer.require()
        try server.require()
        let database = ClickHouseTestServer.uniqueDatabaseName(prefix)
        let ch = try ClickHouseClient(url: server.url)
        try await withDatabase { pg in
            try await setUp(pg)
            try await body(pg, ch, database, try manifest(sink: clickHouseSink(server, database), cdc: cdc))
        }
        try? await ch.execute("DROP DATABASE IF EXISTS `\(database)`", idempotent: true)
        await ch.close()
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
        try await withClickHouseTarget(server, "pgcdc") { pg, ch, database, path in
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
    }

    /// Killed after the snapshot was published into ClickHouse but before its state was written:
    /// the restart's new snapshot retires (tombstones) the keys deleted in between, so the live
    /// rows equal the source.
    @Test(arguments: ClickHouseTestServer.all)
    func aSnapshotPublishedButNotRecordedIsTakenAgainIntoClickHouse(_ server: ClickHouseTestServer) async throws {
        try await withClickHouseTarget(server, "pgsnap") { pg, ch, database, path in
            try await killAfterTheSnapshotIsPublishedThenChange(pg, path: path) {
                try await clickHouseRows(ch, database) == sourceRows(pg)
            }
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/snap-ch-restart.log")
            #expect(try await convergeClickHouse(pg, ch, database, seconds: 60), "after the second snapshot: \(worker.output)")
            #expect(try await clickHouseRows(ch, database).count == 271)
            #expect(await worker.stop() == 0, "\(worker.output)")
        }
    }

    /// The same ALTER TABLEs into ClickHouse cdc_apply on both servers: columns added (Nullable),
    /// widened (MODIFY COLUMN, awaited) and kept when the source drops one (made Nullable).
    @Test(arguments: ClickHouseTestServer.all)
    func alterTableWhileStreamingIsFollowedIntoClickHouse(_ server: ClickHouseTestServer) async throws {
        try await withClickHouseTarget(server, "pgcdcalter") { pg, ch, database, path in
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/ch-alter.log")
            #expect(try await convergeClickHouse(pg, ch, database), "snapshot: \(worker.output)")
            try await alterWhileStreaming(pg)
            let rows = try await awaitRows(Self.rowsAfterAlters) {
                try await ch.queryNullableRows(
                    "SELECT toString(id), name, region, toString(qty), toString(toInt64(amount * 100)) FROM `\(database)`.`dst` FINAL WHERE __dpone__is_deleted = 0 AND id IN (1, 2, 3, 5001, 5002, 5003, 5004, 5005) ORDER BY id")
            }
            #expect(rows == Self.rowsAfterAlters, "\(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
            let types = try await ch.queryRows(
                "SELECT name, type FROM system.columns WHERE database = '\(database)' AND table = 'dst' AND name IN ('name', 'region', 'qty') ORDER BY name")
            #expect(types == [["name", "Nullable(String)"], ["qty", "Nullable(Int64)"], ["region", "Nullable(String)"]])
        }
    }
}

extension PostgresCDCStreamTests {
    /// `on_truncate: truncate_target` into ClickHouse on both servers: the target is emptied at the
    /// TRUNCATE (TRUNCATE TABLE), the events after it apply, the ones before it in its transaction
    /// do not.
    @Test(arguments: ClickHouseTestServer.all)
    func truncateEmptiesAClickHouseTarget(_ server: ClickHouseTestServer) async throws {
        try await withClickHouseTarget(server, "pgtrunc", cdc: ", on_truncate: truncate_target") { pg, ch, database, path in
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/ch-truncate.log")
            #expect(try await convergeClickHouse(pg, ch, database), "snapshot: \(worker.output)")
            try await pg.execute(
                "BEGIN; INSERT INTO \(s).src VALUES (9001, 'gone', 1, NULL); TRUNCATE \(s).src; INSERT INTO \(s).src VALUES (9002, 'kept', 2, NULL); COMMIT")
            try await pg.execute("INSERT INTO \(s).src VALUES (9003, 'later', 3, NULL); UPDATE \(s).src SET name = 'changed' WHERE id = 9002")
            #expect(try await convergeClickHouse(pg, ch, database), "after the truncate: \(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
            #expect(try await clickHouseRows(ch, database).map { $0.prefix(2).map { $0 ?? "" } } == [["9002", "changed"], ["9003", "later"]])
        }
    }
}
