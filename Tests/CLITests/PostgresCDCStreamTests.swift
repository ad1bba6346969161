import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// `dpone stream` Postgres -> Postgres through logical replication (source.options.cdc, cdc_apply):
/// snapshot then streamed inserts / updates / deletes (with unchanged TOAST) land exactly; kill -9
/// and restart never loses or duplicates and never confirms the slot past dpone's state; an idle
/// table's slot still follows the server's WAL.
@Suite(
    .tags(.integrationReplay, .integrationPostgres), IntegrationGate.replay.trait, IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct PostgresCDCStreamTests {
    /// Source, slot, publication and target live in a database of their own: a slot decodes the
    /// whole database, and must not decode what the parallel suites do to theirs.
    static let database = "dpone_test_cdc_stream"
    let url = PostgresTestServer.url(database: Self.database)
    let dir: String
    let schema = PostgresTestServer.uniqueSchemaName("pgcdc")
    let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    var slot: String { "dpone_test_cdc_\(suffix)" }
    var publication: String { "dpone_test_cdcpub_\(suffix)" }
    var s: String { PostgresSQL.quoteIdentifier(schema) }

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-pgcdc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    /// The stream's manifest: `src` into `sink` (default: `dst` in the same schema, cdc_apply).
    func manifest(sink: String? = nil, cdc: String = "") throws -> String {
        let path = "\(dir)/cdc.yml"
        try """
            name: pgcdc
            source:
              type: postgres
              connection: {url: "\(url)"}
              table: {schema: \(schema), name: src}
              options: {cdc: {slot: \(slot), publication: \(publication)\(cdc)}}
            sink: \(sink ?? "{type: postgres, connection: {url: \"\(url)\"}, table: {schema: \(schema), name: dst}, strategy: {mode: cdc_apply, unique_key: id}}")
            state: {dir: \(dir)/state}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A table with a key, a numeric, a short text and an out-of-line (EXTERNAL storage) text of
    /// more than 2 kB on every third row; 300 seeded rows. `identity` "full": REPLICA IDENTITY FULL
    /// (old rows arrive whole, TOASTed values included), else the primary key.
    func setUp(_ pg: PostgresConnection, identity: String = "default") async throws {
        try await pg.execute(
            """
            CREATE SCHEMA \(s);
            CREATE TABLE \(s).src (id int PRIMARY KEY, name text, amount numeric(10,2), big text);
            ALTER TABLE \(s).src ALTER COLUMN big SET STORAGE EXTERNAL;
            ALTER TABLE \(s).src REPLICA IDENTITY \(identity == "full" ? "FULL" : "DEFAULT");
            INSERT INTO \(s).src SELECT i, 'n' || i, i * 1.5, CASE WHEN i % 3 = 0 THEN repeat(md5(i::text), 200) END
              FROM generate_series(1, 300) AS i;
            CREATE TABLE \(s).other (x serial PRIMARY KEY, payload text);
            """)
    }

    /// Count and a digest of every column (the big text through its md5) of a table.
    func digest(_ pg: PostgresConnection, _ table: String) async throws -> [String] {
        let rows = try await pg.query(
            "SELECT count(*)::text, coalesce(md5(string_agg(format('%s|%s|%s|%s', id, name, amount, md5(big)), ',' ORDER BY id)), '') FROM \(s).\(table)")
        return rows.first?.map { $0 ?? "" } ?? []
    }

    /// Waits until the target equals the source (or the deadline passes); returns whether it did.
    func converge(_ pg: PostgresConnection, seconds: Double = 60) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let target = try? await digest(pg, "dst"), try await digest(pg, "src") == target { return true }
            try await Task.sleep(for: .milliseconds(250))
        }
        return false
    }

    func confirmedFlush(_ pg: PostgresConnection) async throws -> String? {
        try await pg.query("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", parameters: [slot])
            .first?.first ?? nil
    }

    /// The lsn in dpone's state file, if any.
    func stateLSN() throws -> String? {
        let path = "\(dir)/state/pgcdc@0.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let state = try JSONDecoder().decode(PipelineState.self, from: data)
        return state.source?["lsn"]?.stringValue
    }

    func lsnLessOrEqual(_ pg: PostgresConnection, _ a: String, _ b: String) async throws -> Bool {
        try await pg.query("SELECT ($1::pg_lsn <= $2::pg_lsn)::text", parameters: [a, b]).first?.first == "true"
    }

    /// Connects to the suite's database (created when missing), runs `body`, and always drops the
    /// slot, the publication and the schema afterwards.
    func withDatabase(_ body: (PostgresConnection) async throws -> Void) async throws {
        _ = try await PostgresTestServer.isolatedDatabase(Self.database)
        let pg = try await PostgresConnection.connect(url: url)
        do {
            try await body(pg)
        } catch {
            await pg.close()
            await cleanUp()
            throw error
        }
        await pg.close()
        await cleanUp()
    }

    /// The slot's confirmed_flush_lsn is not past the lsn in dpone's state.
    func expectSlotWithinState(_ pg: PostgresConnection, _ what: String) async throws {
        let state = try #require(try stateLSN(), "\(what): no state")
        let confirmed = try #require(try await confirmedFlush(pg))
        #expect(try await lsnLessOrEqual(pg, confirmed, state), "\(what): confirmed \(confirmed) <= state \(state)")
    }

    func cleanUp() async {
        guard let pg = try? await PostgresConnection.connect(url: url) else { return }
        for _ in 0..<100 {
            _ = try? await pg.query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
                parameters: [slot])
            if (try? await pg.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", parameters: [slot]).isEmpty) ?? true {
                break
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        try? await pg.execute("DROP PUBLICATION IF EXISTS \(PostgresSQL.quoteIdentifier(publication))")
        try? await pg.execute("DROP SCHEMA IF EXISTS \(s) CASCADE")
        await pg.close()
    }

    /// Runs `workloadStep` on `writer` until the flag is set, round-robin over `tables`; the task
    /// returns the number of steps.
    func startWorkload(_ writer: PostgresConnection, tables: [String] = ["src"]) -> (task: Task<Int, any Error>, stop: Flag) {
        let stop = Flag()
        let task = Task {
            var i = 0
            while !stop.isSet {
                try await workloadStep(writer, i / tables.count, table: tables[i % tables.count])
                i += 1
                try await Task.sleep(for: .milliseconds(5))
            }
            return i
        }
        return (task, stop)
    }

    /// One step of a mixed workload on `src`: inserts, updates of short and of non-TOAST columns of
    /// rows with a TOASTed value (so the value streams as unchanged TOAST), deletes, key changes,
    /// and transactions touching one key several times.
    func workloadStep(_ pg: PostgresConnection, _ i: Int, table: String = "src") async throws {
        let t = "\(s).\(table)"
        switch i % 8 {
        case 0:
            try await pg.execute("INSERT INTO \(t) VALUES (\(1_000_000 + i), 'ins\(i)', \(i), CASE WHEN \(i) % 16 = 0 THEN repeat('z', 3000) END)")
        case 1:
            try await pg.execute("UPDATE \(t) SET name = 'upd\(i)' WHERE id = (SELECT id FROM \(t) ORDER BY random() LIMIT 1)")
        case 2:
            try await pg.execute("UPDATE \(t) SET amount = amount + 1 WHERE id = (SELECT id FROM \(t) WHERE big IS NOT NULL ORDER BY random() LIMIT 1)")
        case 3:
            try await pg.execute("DELETE FROM \(t) WHERE id = (SELECT id FROM \(t) ORDER BY random() LIMIT 1)")
        case 4:
            try await pg.execute(
                "BEGIN; INSERT INTO \(t) VALUES (\(2_000_000 + i), 'tx', 1, repeat('q', 2500)); UPDATE \(t) SET amount = 2 WHERE id = \(2_000_000 + i); UPDATE \(t) SET name = 'tx2' WHERE id = \(2_000_000 + i); COMMIT")
        case 5:
            try await pg.execute("UPDATE \(t) SET id = id + 100000000 WHERE id = (SELECT id FROM \(t) AS a WHERE id < 100000000 AND NOT EXISTS (SELECT 1 FROM \(t) AS b WHERE b.id = a.id + 100000000) ORDER BY random() LIMIT 1)")
        case 6:
            try await pg.execute("BEGIN; DELETE FROM \(t) WHERE id = \(1_000_000 + i - 6); INSERT INTO \(t) VALUES (\(1_000_000 + i - 6), 'again', 7, NULL); COMMIT")
        default:
            try await pg.execute("UPDATE \(t) SET big = big || 'x' WHERE id = (SELECT id FROM \(t) WHERE big IS NOT NULL ORDER BY random() LIMIT 1)")
        }
    }

    @Test(arguments: ["default", "full"])
    func snapshotThenChangesLandExactlyAndSIGTERMDrains(identity: String) async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg, identity: identity)
            // With the default identity, cdc_apply takes the table's primary key: no unique_key.
            let path = try manifest(
                sink: identity == "default"
                    ? "{type: postgres, connection: {url: \"\(url)\"}, table: {schema: \(schema), name: dst}, strategy: {mode: cdc_apply}}" : nil)
            let validate = try await CLI.run(["manifest", "validate", path])
            #expect(validate.status == 0, "a manifest that validates runs: \(validate.stdout) \(validate.stderr)")
            let port = try PrivateClickHouse.freePort()
            let worker = try StreamProcess(
                ["stream", path, "--checkpoint-interval", "300ms", "--metrics-port", String(port)], log: "\(dir)/worker.log")
            #expect(try await converge(pg), "snapshot: \(worker.output)")
            #expect(try await digest(pg, "dst").first == "300")
            for i in 0..<200 { try await workloadStep(pg, i) }
            #expect(try await converge(pg), "changes: \(worker.output)")
            // The Prometheus endpoint: replication lag of the slot, checkpoints and their duration.
            try await Task.sleep(for: .seconds(1))
            let metrics = try await MetricsScrape(port: port)
            #expect(metrics.value("dpone_replication_lag_bytes{slot=\"\(slot)\"}") != nil, "\(metrics.text)")
            #expect((metrics.value("dpone_replication_lag_seconds{slot=\"\(slot)\"}") ?? -1) >= 0, "\(metrics.text)")
            #expect((metrics.value("dpone_checkpoint_duration_seconds_count") ?? 0) >= 2, "\(metrics.text)")
            #expect((metrics.value("dpone_source_rows_total") ?? 0) >= 300, "\(metrics.text)")
            // An update of a non-TOAST column of a row whose big value stays out of line.
            let toasted = try #require(
                try await pg.query("SELECT min(id)::text FROM \(s).src WHERE big IS NOT NULL AND length(big) = 6400").first?.first ?? nil)
            try await pg.execute("UPDATE \(s).src SET name = 'toast-kept' WHERE id = \(toasted)")
            #expect(try await converge(pg), "changes: \(worker.output)")
            #expect(await worker.stop() == 0, "a stop request publishes and exits 0: \(worker.output)")
            #expect(try await digest(pg, "src") == digest(pg, "dst"))
            // Streamed, not re-snapshotted: many commits' lsns, several checkpoints in the ledger.
            let lsns = try await pg.query("SELECT count(DISTINCT __dpone__lsn)::text FROM \(s).dst")
            #expect(Int(lsns.first?.first.flatMap { $0 } ?? "0") ?? 0 > 20, "\(lsns)")
            let checkpoints = try await pg.query("SELECT count(*)::text, sum(deleted)::text FROM \(s).__dpone__loads WHERE pipeline = 'pgcdc@0'")
            #expect(Int(checkpoints.first?.first.flatMap { $0 } ?? "0") ?? 0 >= 2, "\(checkpoints)")
            #expect(Int(checkpoints.first?.last.flatMap { $0 } ?? "0") ?? 0 > 0, "deletes were applied: \(checkpoints)")
            let kept = try await pg.query(
                "SELECT d.name, length(d.big)::text, (d.big = s.big)::text FROM \(s).dst AS d JOIN \(s).src AS s USING (id) WHERE id = \(toasted)")
            #expect(kept == [["toast-kept", "6400", "true"]], "the unchanged TOAST value is intact")
            // The slot is confirmed up to what the state holds, not beyond.
            try await expectSlotWithinState(pg, "at the end")
        }
    }

    /// SIGKILL at random moments of the workload (`DPONE_CDC_KILLS`, default 6; the issue's long form
    /// is 20), a restart after each: never confirmed past the state, exact at the end.
    @Test func killedRepeatedlyAndRestartedConvergesAndNeverConfirmsPastState() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            let path = try manifest()
            var worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/w0.log")
            #expect(try await converge(pg), "snapshot: \(worker.output)")
            let writer = try await PostgresConnection.connect(url: url)
            let (workload, stop) = startWorkload(writer)
            worker = try await killAndRestart(worker, path: path, rounds: 6, log: "w", pg)
            try await Task.sleep(for: .seconds(1))
            stop.set()
            let steps = try await workload.value
            await writer.close()
            #expect(steps > 10, "the workload ran during the kills (\(steps) steps)")
            #expect(try await converge(pg, seconds: 90), "after restarts: \(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
            #expect(try await digest(pg, "src") == digest(pg, "dst"))
            #expect(!worker.output.contains("created replication slot"), "a restart never snapshots again")
        }
    }

    /// SIGKILL at `DPONE_CDC_KILLS` (default `rounds`) random moments, a restart after each; after
    /// every kill the slot was never confirmed past the durable state. Returns the last worker.
    func killAndRestart(_ first: StreamProcess, path: String, rounds: Int, log: String, _ pg: PostgresConnection) async throws
        -> StreamProcess
    {
        var worker = first
        let kills = Int(ProcessInfo.processInfo.environment["DPONE_CDC_KILLS"] ?? "") ?? rounds
        for round in 1...kills {
            try await Task.sleep(for: .milliseconds(Int.random(in: 700...2500)))
            await worker.killHard()
            try await Task.sleep(for: .milliseconds(300))
            try await expectSlotWithinState(pg, "round \(round): \(worker.output)")
            worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/\(log)\(round).log")
        }
        return worker
    }

    /// Killed by `DPONE_FAULT` at each point of the checkpoint protocol, on its third checkpoint
    /// (after the snapshot's and a streamed one), while the workload runs: the slot was never
    /// confirmed past the durable state, and the restart converges exactly.
    @Test(arguments: FaultPoint.allCases.map(\.rawValue))
    func killedAtEachFaultPointMidStreamConverges(fault: String) async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            let path = try manifest()
            let writer = try await PostgresConnection.connect(url: url)
            let (workload, stop) = startWorkload(writer)
            let doomed = try StreamProcess(
                ["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/fault.log",
                environment: ["DPONE_FAULT": fault, "DPONE_FAULT_AFTER": "2"])
            try await doomed.awaitFaultKill(try #require(FaultPoint(rawValue: fault)))
            #expect(doomed.process.terminationReason == .uncaughtSignal, "killed at \(fault): \(doomed.output)")
            try await expectSlotWithinState(pg, "\(fault): \(doomed.output)")
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/restart.log")
            try await Task.sleep(for: .seconds(1))
            stop.set()
            _ = try await workload.value
            await writer.close()
            // Once in CI (1 of 5 runs) the restart after a kill at after_finalize_before_state did
            // not converge: the replay re-filled a key change's unchanged TOAST from a row the first
            // publication had deleted. The ledger's applied_lsn now skips replayed events
            // (SinkCDCApplyTests.aReplayOfAppliedEventsIsAFirstApplication reproduces it).
            #expect(try await converge(pg, seconds: 90), "\(fault), after the restart: \(worker.output)")
            #expect(try await digest(pg, "src") == digest(pg, "dst"), "source and target digests")
            #expect(await worker.stop() == 0, "\(worker.output)")
        }
    }

    @Test func idleTableSlotFollowsTheServerWAL() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            let path = try manifest()
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/idle.log")
            #expect(try await converge(pg), "snapshot: \(worker.output)")
            var start: String?
            for _ in 0..<100 where start == nil {
                start = try await confirmedFlush(pg)
                try await Task.sleep(for: .milliseconds(100))
            }
            // Writes to a table outside the publication only.
            for i in 0..<50 { try await pg.execute("INSERT INTO \(s).other (payload) VALUES (repeat('w', 500) || \(i))") }
            let walAfterWrites = try #require(try await pg.query("SELECT pg_current_wal_lsn()::text").first?.first ?? nil)
            var advanced = false
            let deadline = Date().addingTimeInterval(40)
            while Date() < deadline && !advanced {
                if let confirmed = try await confirmedFlush(pg) { advanced = try await lsnLessOrEqual(pg, walAfterWrites, confirmed) }
                if !advanced { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(advanced, "confirmed_flush_lsn reached \(walAfterWrites) (from \(start ?? "?")): \(worker.output)")
            try await expectSlotWithinState(pg, "at the end")
            #expect(await worker.stop() == 0, "\(worker.output)")
            #expect(try await digest(pg, "src") == digest(pg, "dst"))
        }
    }

    /// A slot without dpone state (a first start that died before its snapshot was durable) is
    /// created again with a snapshot; a slot that disappeared under a done snapshot is a clear error.
    @Test func leftoverSlotIsRecreatedAndAMissingSlotIsAnError() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            _ = try await pg.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", parameters: [slot])
            let path = try manifest()
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/left.log")
            #expect(try await converge(pg), "\(worker.output)")
            try await pg.execute("UPDATE \(s).src SET name = 'after' WHERE id = 1")
            #expect(try await converge(pg), "\(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
            #expect(worker.output.contains("dropping replication slot left by a start"), "\(worker.output)")
            await cleanUpSlotOnly(pg)
            let out = try await CLI.run(["stream", path, "--max-duration", "20s"])
            #expect(out.status == 1, "\(out.stdout) \(out.stderr)")
            #expect(out.stdout.contains("does not exist, but dpone's state says its snapshot was taken"), "\(out.stdout) \(out.stderr)")
        }
    }

    func cleanUpSlotOnly(_ pg: PostgresConnection) async {
        for _ in 0..<100 {
            _ = try? await pg.query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
                parameters: [slot])
            if (try? await pg.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", parameters: [slot]).isEmpty) ?? true {
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test func aTableWithoutReplicaIdentityFailsAtStart() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await pg.execute("CREATE SCHEMA \(s); CREATE TABLE \(s).src (id int, name text, amount numeric(10,2), big text)")
            let out = try await CLI.run(["stream", try manifest(), "--max-duration", "20s"])
            #expect(out.status == 1, "\(out.stdout) \(out.stderr)")
            #expect(out.stdout.contains("has no usable replica identity"), "\(out.stdout) \(out.stderr)")
            #expect(try await confirmedFlush(pg) == nil, "no slot was created")
            #expect(try await pg.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", parameters: [slot]).isEmpty)
        }
    }

    @Test func batchRefusesCDCAndStreamRefusesAPlainPostgresSource() async throws {
        let path = "\(dir)/batch.yml"
        try """
            name: cdcbatch
            source: {type: postgres, connection: {url: "postgresql://u@127.0.0.1:1/db"}, table: {name: src}, options: {cdc: {slot: s1, publication: p1}}}
            sink: {type: postgres, connection: {url: "postgresql://u@127.0.0.1:1/db"}, table: {name: dst}, strategy: {mode: cdc_apply, unique_key: id}}
            state: {dir: \(dir)/state-batch}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let out = try await CLI.run(["batch", path])
        #expect(out.status == 2, "a usage error: \(out.stdout) \(out.stderr)")
        #expect(out.stdout.contains("run this manifest with dpone stream"), "\(out.stdout) \(out.stderr)")
    }
}

final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

import Synchronization

extension PostgresCDCStreamTests {
    /// PG CDC -> Kafka: the snapshot and streamed changes become upsert events keyed by the primary
    /// key, and deletes become tombstones of their key.
    @Test func changesToKafkaAsUpsertsAndTombstones() async throws {
        try PostgresTestServer.require()
        try KafkaTestServer.require()
        _ = try await PostgresTestServer.isolatedDatabase(Self.database)
        let pg = try await PostgresConnection.connect(url: url)
        do {
            try await pg.execute(
                """
                CREATE SCHEMA \(s);
                CREATE TABLE \(s).src (id int PRIMARY KEY, name text);
                INSERT INTO \(s).src SELECT i, 'n' || i FROM generate_series(1, 20) AS i;
                """)
            let topic = try KafkaTestServer.createTopic("cdc", partitions: 3)
            let path = "\(dir)/tokafka.yml"
            try """
                name: pgcdc
                source:
                  type: postgres
                  connection: {url: "\(url)"}
                  table: {schema: \(schema), name: src}
                  options: {cdc: {slot: \(slot), publication: \(publication)}}
                sink: {type: kafka, connection: {url: "\(try KafkaTestServer.url)"}, topic: \(topic), strategy: {mode: cdc_apply, unique_key: id}}
                state: {dir: \(dir)/state}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/kafka.log")
            // The snapshot first (20 upserts), then the changes stream.
            let snapshotDeadline = Date().addingTimeInterval(60)
            while Date() < snapshotDeadline, ((try? await KafkaTestServer.consumeAllOffPool(topic, partitions: 3))?.count ?? 0) < 20 {
                try await Task.sleep(for: .milliseconds(300))
            }
            try await pg.execute(
                "UPDATE \(s).src SET name = 'changed' WHERE id IN (1, 2); DELETE FROM \(s).src WHERE id IN (3, 4); INSERT INTO \(s).src VALUES (21, 'new')")
            var records: [KafkaTestServer.Record] = []
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                records = (try? await KafkaTestServer.consumeAllOffPool(topic, partitions: 3)) ?? []
                if records.count >= 25 { break }
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(await worker.stop() == 0, "\(worker.output)")
            #expect(records.count == 25, "20 snapshot rows, 2 updates, 2 deletes, 1 insert: \(records.count)\n\(worker.output)")
            let tombstones = records.filter { $0.value == nil }.compactMap(\.key).sorted()
            #expect(tombstones == ["{\"id\":3}", "{\"id\":4}"], "\(tombstones)")
            let updated = records.filter { $0.key == "{\"id\":1}" }.last?.value ?? ""
            #expect(updated.contains("\"name\":\"changed\""), "\(updated)")
            #expect(records.filter { $0.value == nil }.allSatisfy { $0.headers["dpone.op"] == "delete" })
        } catch {
            Issue.record(error)
        }
        await pg.close()
        await cleanUp()
    }
}

extension PostgresCDCStreamTests {
    /// ALTER TABLEs on `src` while a stream runs: ADD COLUMN region (in one transaction with rows of
    /// the old and the new shape), ADD COLUMN qty then its widening to bigint, DROP COLUMN name.
    func alterWhileStreaming(_ pg: PostgresConnection) async throws {
        try await pg.execute(
            """
            BEGIN;
            INSERT INTO \(s).src VALUES (5001, 'before', 1, NULL);
            ALTER TABLE \(s).src ADD COLUMN region text DEFAULT 'eu';
            INSERT INTO \(s).src VALUES (5002, 'after', 2, NULL, 'us');
            UPDATE \(s).src SET region = 'apac' WHERE id = 1;
            COMMIT;
            """)
        try await pg.execute("ALTER TABLE \(s).src ADD COLUMN qty integer; INSERT INTO \(s).src (id, name, qty) VALUES (5003, 'q', 7)")
        try await pg.execute(
            "ALTER TABLE \(s).src ALTER COLUMN qty TYPE bigint; INSERT INTO \(s).src (id, name, qty) VALUES (5004, 'big', 5000000000)")
        try await pg.execute(
            "ALTER TABLE \(s).src DROP COLUMN name; INSERT INTO \(s).src (id, amount) VALUES (5005, 9); UPDATE \(s).src SET amount = 10 WHERE id = 2")
    }

    /// The rows `alterWhileStreaming` leaves in the target: `id, name, region, qty, amount in cents`.
    static let rowsAfterAlters: [[String?]] = [
        ["1", "n1", "apac", nil, "150"],
        ["2", nil, "eu", nil, "1000"],  // updated after the drop: name NULL from then on, region as the source has it
        ["3", "n3", nil, nil, "450"],  // not changed since ADD COLUMN: NULL there, not the source's default (documented)
        ["5001", "before", nil, nil, "100"],  // the old shape, in the ALTER's own transaction
        ["5002", "after", "us", nil, "200"],
        ["5003", "q", "eu", "7", nil],
        ["5004", "big", "eu", "5000000000", nil],
        ["5005", nil, "eu", nil, "900"],
    ]

    /// Polls `read` until it returns `want` (or 60 s pass); returns the last rows read.
    func awaitRows(_ want: [[String?]], _ read: () async throws -> [[String?]]) async throws -> [[String?]] {
        let deadline = Date().addingTimeInterval(60)
        var got: [[String?]] = []
        while Date() < deadline {
            got = (try? await read()) ?? []
            if got == want { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        return got
    }

    /// ALTER TABLE while streaming is followed at the checkpoint boundary, without a new snapshot:
    /// ADD COLUMN (in the same transaction as rows of the old and the new shape), a widening, and
    /// DROP COLUMN (the target keeps the column, NULL for rows written from then on).
    @Test func alterTableWhileStreamingIsFollowedWithoutASnapshot() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            let path = try manifest()
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/alter.log")
            #expect(try await converge(pg), "snapshot: \(worker.output)")
            try await alterWhileStreaming(pg)
            let rows = try await awaitRows(Self.rowsAfterAlters) {
                try await pg.query(
                    "SELECT id::text, name, region, qty::text, ((amount * 100)::bigint)::text FROM \(s).dst WHERE id IN (1, 2, 3, 5001, 5002, 5003, 5004, 5005) ORDER BY id")
            }
            #expect(rows == Self.rowsAfterAlters, "\(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
            let types = try await pg.query(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dst' AND column_name IN ('name', 'region', 'qty') ORDER BY column_name",
                parameters: [schema])
            #expect(types == [["name", "text"], ["qty", "bigint"], ["region", "text"]])
            #expect(worker.output.components(separatedBy: "created replication slot").count <= 2, "one snapshot only: \(worker.output)")
            #expect(worker.output.contains("table shape changed while streaming"), "\(worker.output)")
        }
    }
}

extension PostgresCDCStreamTests {
    /// A TRUNCATE of the streamed table: by default (`on_truncate: fail`) the stream stops with an
    /// error naming the table and the option; with `truncate_target` the target is emptied at that
    /// point, the changes after it (in the same transaction too) apply, and the ones before do not.
    @Test func truncateStopsTheStreamOrEmptiesTheTarget() async throws {
        try PostgresTestServer.require()
        try await withDatabase { pg in
            try await setUp(pg)
            let strict = try StreamProcess(["stream", try manifest(), "--checkpoint-interval", "300ms"], log: "\(dir)/truncate-fail.log")
            #expect(try await converge(pg), "snapshot: \(strict.output)")
            try await pg.execute("TRUNCATE \(s).src")
            let code = await strict.waitExit(60)
            #expect(code != nil && code != 0, "the stream stops: \(strict.output)")
            #expect(strict.output.contains("was truncated") && strict.output.contains("on_truncate"), "\(strict.output)")
            #expect(try await digest(pg, "dst").first == "300", "the target keeps what it had")

            let path = try manifest(cdc: ", on_truncate: truncate_target")
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/truncate.log")
            // The TRUNCATE that stopped the first run is replayed: the target is emptied now.
            #expect(try await converge(pg), "after the replayed truncate: \(worker.output)")
            try await pg.execute("INSERT INTO \(s).src SELECT i, 'r' || i, i, NULL FROM generate_series(1, 50) AS i")
            #expect(try await converge(pg), "new rows: \(worker.output)")
            try await pg.execute(
                "BEGIN; INSERT INTO \(s).src VALUES (9001, 'gone', 1, NULL); TRUNCATE \(s).src; INSERT INTO \(s).src VALUES (9002, 'kept', 2, NULL); COMMIT")
            try await pg.execute("INSERT INTO \(s).src VALUES (9003, 'later', 3, NULL)")
            #expect(try await converge(pg), "after the truncate: \(worker.output)")
            #expect(await worker.stop() == 0, "\(worker.output)")
            #expect(try await pg.query("SELECT id::text FROM \(s).dst ORDER BY id") == [["9002"], ["9003"]])
            let deleted = try await pg.query("SELECT sum(deleted)::text FROM \(s).__dpone__loads WHERE pipeline = 'pgcdc@0'")
            // 300 (the replayed truncate) + 50: 9001 never reached the target (its own transaction truncated it).
            #expect(deleted == [["350"]], "the emptied rows are counted as deleted")
        }
    }
}
