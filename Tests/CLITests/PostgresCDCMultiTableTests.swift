import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

extension PostgresCDCStreamTests {
    /// Two tables on one slot (`cdc.tables`): `src` (primary-key identity) into `dst`, and `src2`
    /// (REPLICA IDENTITY FULL) into `dst2`.
    func twoTableManifest() throws -> String {
        let path = "\(dir)/cdc2.yml"
        try """
            name: pgcdc
            source:
              type: postgres
              connection: {url: "\(url)"}
              options:
                cdc:
                  slot: \(slot)
                  publication: \(publication)
                  tables: [{table: \(schema).src, sink_table: \(schema).dst}, {table: \(schema).src2, sink_table: \(schema).dst2}]
            sink: {type: postgres, connection: {url: "\(url)"}, strategy: {mode: cdc_apply}}
            state: {dir: \(dir)/state}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func setUpSecondTable(_ pg: PostgresConnection) async throws {
        try await pg.execute(
            """
            CREATE TABLE \(s).src2 (LIKE \(s).src INCLUDING ALL);
            ALTER TABLE \(s).src2 ALTER COLUMN big SET STORAGE EXTERNAL;
            ALTER TABLE \(s).src2 REPLICA IDENTITY FULL;
            INSERT INTO \(s).src2 SELECT id + 5, name || '/2', amount * 2, big FROM \(s).src WHERE id % 2 = 0;
            """)
    }

    func convergeBoth(_ pg: PostgresConnection, seconds: Double = 60) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let a = try? await digest(pg, "dst"), let b = try? await digest(pg, "dst2"),
                try await digest(pg, "src") == a, try await digest(pg, "src2") == b
            {
                return true
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        return false
    }

    /// Both tables stream through one slot into their own targets while a workload changes both;
    /// SIGKILL at random moments (`DPONE_CDC_KILLS`, default 4) and a restart after each never
    /// confirm the slot past the state, and both targets end exact. One slot serves both tables.
    @Test func twoTablesOnOneSlotSurviveKillsAndEndExact() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            try await setUpSecondTable(pg)
            let path = try twoTableManifest()
            var worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/m0.log")
            #expect(try await convergeBoth(pg), "snapshot of both tables: \(worker.output)")
            let slots = try await pg.query("SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = $1", parameters: [slot])
            #expect(slots.first?.first == "1")
            let writer = try await PostgresConnection.connect(url: url)
            let (workload, stop) = startWorkload(writer, tables: ["src", "src2"])
            worker = try await killAndRestart(worker, path: path, rounds: 4, log: "m", pg)
            try await Task.sleep(for: .seconds(1))
            stop.set()
            let steps = try await workload.value
            await writer.close()
            #expect(steps > 10, "the workload ran during the kills (\(steps) steps)")
            #expect(try await convergeBoth(pg, seconds: 90), "after restarts: \(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
            #expect(try await digest(pg, "src") == digest(pg, "dst"))
            #expect(try await digest(pg, "src2") == digest(pg, "dst2"))
            #expect(!worker.output.contains("created replication slot"), "a restart never snapshots again")
        }
    }

    /// Runs the stream at `path` until it kills itself right after publishing its snapshot (before
    /// the state), checks that no state was written, then changes `src`: 30 of its 300 rows deleted,
    /// 30 renamed, one added (271 rows).
    func killAfterTheSnapshotIsPublishedThenChange(_ pg: PostgresConnection, path: String, published: () async throws -> Bool)
        async throws
    {
        let doomed = try StreamProcess(
            ["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/snapfault.log",
            environment: ["DPONE_FAULT": FaultPoint.afterFinalizeBeforeState.rawValue, "DPONE_FAULT_AFTER": "0"])
        try await doomed.awaitFaultKill(.afterFinalizeBeforeState)
        #expect(doomed.process.terminationReason == .uncaughtSignal, "\(doomed.output)")
        #expect(try stateLSN() == nil, "the snapshot's state was never written")
        #expect(try await published(), "the snapshot was published")
        try await pg.execute(
            """
            DELETE FROM \(s).src WHERE id % 10 = 0;
            UPDATE \(s).src SET name = 'changed' WHERE id % 10 = 1;
            INSERT INTO \(s).src VALUES (5000, 'new', 1, NULL);
            """)
    }

    /// Killed after the snapshot was published but before its state was written: the restart takes
    /// a new slot and snapshot, and the target converges to it, rows deleted in between included
    /// (the snapshot checkpoint deletes target rows it lacks).
    @Test func aSnapshotPublishedButNotRecordedIsTakenAgainExactly() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            let path = try manifest()
            try await killAfterTheSnapshotIsPublishedThenChange(pg, path: path) { try await digest(pg, "dst") == digest(pg, "src") }
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/snaprestart.log")
            #expect(try await converge(pg), "after the second snapshot: \(worker.output)")
            let count = try await pg.query("SELECT count(*)::text FROM \(s).dst")
            #expect(count.first?.first == "271", "270 seeded rows left plus one new")
            #expect(await worker.stop() == 0, "\(worker.output)")
            try await expectSlotWithinState(pg, "at the end")
        }
    }
}

extension PostgresCDCStreamTests {
    /// One transaction far larger than the channels (200k rows of ~1 KB: about 200 MB of values)
    /// streams with flat memory, its batches leaving before its commit is read: the stream's peak
    /// RSS stays under 150 MB, and the target is exact.
    @Test func aHugeTransactionStreamsWithFlatMemory() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            let path = try manifest()
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "500ms"], log: "\(dir)/huge.log")
            #expect(try await converge(pg), "snapshot: \(worker.output)")
            try await pg.execute(
                "INSERT INTO \(s).src SELECT 10000 + i, repeat(md5(i::text), 32), i, NULL FROM generate_series(1, 200000) AS i")
            #expect(try await converge(pg, seconds: 180), "after the transaction: \(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
            let peak = try #require(Self.peakRSSMegabytes(worker.output), "\(worker.output)")
            #expect(peak < 150, "peak RSS \(peak) MB for a 200 MB transaction")
        }
    }

    /// The `peak RSS N MB` of a run summary.
    static func peakRSSMegabytes(_ output: String) -> Double? {
        guard let range = output.range(of: "peak RSS ", options: .backwards) else { return nil }
        let rest = output[range.upperBound...]
        return Double(rest.prefix { $0.isNumber || $0 == "." })
    }
}

extension PostgresCDCStreamTests {
    /// A table above `snapshot_range_mb` is snapshotted as ctid ranges on parallel connections,
    /// inside the one exported snapshot: every row exactly once, then streaming continues.
    @Test func aLargeTableIsSnapshottedInParallelRanges() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            try await pg.execute(
                "INSERT INTO \(s).src SELECT 10000 + i, repeat(md5(i::text), 8), i, NULL FROM generate_series(1, 30000) AS i")
            let path = "\(dir)/ranges.yml"
            try """
                name: pgcdc
                source:
                  type: postgres
                  connection: {url: "\(url)"}
                  table: {schema: \(schema), name: src}
                  options: {cdc: {slot: \(slot), publication: \(publication), snapshot_parallelism: 3, snapshot_range_mb: 1}}
                sink: {type: postgres, connection: {url: "\(url)"}, table: {schema: \(schema), name: dst}, strategy: {mode: cdc_apply, unique_key: id}}
                state: {dir: \(dir)/state}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/ranges.log")
            #expect(try await converge(pg), "snapshot: \(worker.output)")
            #expect(worker.output.contains("copying in ranges"), "\(worker.output)")
            let ranges = worker.output.components(separatedBy: "snapshot copied").count - 1
            #expect(ranges >= 3, "the table was copied as \(ranges) ranges")
            try await pg.execute("UPDATE \(s).src SET name = 'after' WHERE id % 7 = 0; DELETE FROM \(s).src WHERE id % 11 = 0")
            #expect(try await converge(pg), "streamed after the snapshot: \(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
        }
    }
}
