import Foundation
import DponeTestSupport
import Flow
import PostgresConnector
import Synchronization
import Testing

/// Its slots decode a database of their own (`PostgresTestServer.isolatedDatabase`), one test at a time.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait, .serialized)
struct ReplicationStreamTests {
    static let database = "dpone_test_replication"

    /// Drops `slot` once no session holds it (a closed replication connection releases it shortly
    /// after); waits at most 10 s. Slots retain WAL: every test drops what it created.
    static func dropSlotEventually(_ conn: PostgresConnection, _ slot: String) async throws {
        for _ in 0..<100 {
            _ = try await conn.query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
                parameters: [slot])
            if try await conn.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", parameters: [slot]).isEmpty {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CaptureError(description: "replication slot \(slot) is still there")
    }

    static func confirmedFlush(_ conn: PostgresConnection, _ slot: String) async throws -> LSN? {
        let rows = try await conn.query(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", parameters: [slot])
        guard let text = rows.first?.first ?? nil else { return nil }
        return LSN(text)
    }

    /// Creates a slot with an exported snapshot, checks the snapshot, streams three inserts made in
    /// another session, decodes them into rows, confirms the commit and sees the slot's
    /// confirmed_flush_lsn move exactly there; answers keepalives without confirming more; stops on
    /// request; ends the stream and drops the slot on the same connection.
    @Test func streamsInsertsAndConfirmsTheFlushedPosition() async throws {
        try await withTestSchema("repl", database: Self.database) { conn, schema in
            let table = PostgresSQL.qualifiedName(schema: schema, name: "events")
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            let slotName = "dpone_test_repl_\(suffix)"
            let publication = "dpone_test_pub_\(suffix)"
            try await conn.execute(
                """
                CREATE TABLE \(table) (id int PRIMARY KEY, name text, amount numeric(8,2), at timestamptz);
                INSERT INTO \(table) VALUES (0, 'before', 0, '2024-01-01 00:00:00+00');
                CREATE PUBLICATION \(publication) FOR TABLE \(table);
                """)
            // No replication timeout here: between receive calls this test talks to the server
            // itself, and under the full parallel suite on 2 cores its continuations waited long
            // enough for any timeout (2, 6 and 20 s all dropped it in CI). Keepalives are answered
            // inside one receive call on the stream's own thread: `keepalivesAreAnsweredWhileReceiving`.
            let stream = try await ReplicationStream.connect(
                url: PostgresTestServer.url(database: Self.database), settings: ["wal_sender_timeout": "0"])
            do {
                let identity = try await stream.identifySystem()
                #expect(identity.timeline >= 1)
                #expect(identity.walPosition > .invalid)
                #expect(identity.database == (try await conn.query("SELECT current_database()"))[0][0])
                #expect(!identity.systemID.isEmpty)

                let slot = try await stream.createSlot(slotName)
                #expect(slot.name == slotName)
                #expect(slot.outputPlugin == "pgoutput")
                #expect(slot.consistentPoint >= identity.walPosition)
                let snapshot = try #require(slot.snapshotName)

                try await conn.execute(
                    """
                    INSERT INTO \(table) VALUES (1, 'a', 1.5, '2024-05-06 07:08:09.5+00'), (2, NULL, NULL, NULL),
                                                (3, 'c', -3.25, '2024-05-06 07:08:09+02')
                    """)

                // The exported snapshot shows the table as of the consistent point: row 0 only.
                let reader = try await PostgresConnection.connect(url: PostgresTestServer.url(database: Self.database))
                try await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                try await reader.execute("SET TRANSACTION SNAPSHOT '\(snapshot)'")
                #expect(try await reader.query("SELECT string_agg(id::text, ',') FROM \(table)") == [["0"]])
                try await reader.execute("COMMIT")
                await reader.close()

                try await stream.startReplication(slot: slotName, from: slot.consistentPoint, publications: [publication])
                var messages: [ReplicationStream.Message] = []
                let deadline = ContinuousClock.now + .seconds(30)
                while !messages.contains(where: { if case .commit = $0.message { true } else { false } }),
                    ContinuousClock.now < deadline
                {
                    let got = try await stream.receive(timeout: .seconds(1))
                    #expect(!got.endOfStream)
                    messages += got.messages
                }
                let decoded = messages.map(\.message)
                #expect(decoded.count == 6)
                guard decoded.count == 6, case .begin(let begin) = decoded[0], case .relation(let relation) = decoded[1],
                    case .commit(let commit) = decoded[5]
                else {
                    Issue.record("unexpected messages \(decoded)")
                    throw CaptureError(description: "unexpected messages")
                }
                #expect(begin.finalLSN == commit.commitLSN)
                #expect(commit.endLSN > slot.consistentPoint)
                #expect(relation.namespace == schema && relation.name == "events")
                #expect(relation.keyColumns == ["id"])
                let rows = try PgOutputRowBuilder(relation: relation)
                var batch = BatchBuilder(schema: rows.schema)
                for message in decoded[2..<5] {
                    guard case .insert(let insert) = message else {
                        Issue.record("not an insert: \(message)")
                        continue
                    }
                    #expect(insert.relationID == relation.id)
                    #expect(try rows.append(insert.new, to: &batch).isEmpty)
                }
                let result = batch.finish()
                #expect(result.rowCount == 3)
                #expect(
                    result.row(0) == [
                        .int(1), .string("a"), .decimal(150, scale: 2),
                        .timestamp(micros(2024, 5, 6, 7, 8, 9, 500_000), withTimeZone: true),
                    ])
                #expect(result.row(1) == [.int(2), .null, .null, .null])
                #expect(
                    result.row(2) == [
                        .int(3), .string("c"), .decimal(-325, scale: 2),
                        .timestamp(micros(2024, 5, 6, 5, 8, 9), withTimeZone: true),
                    ])

                // Confirm the commit: the slot's confirmed_flush_lsn becomes exactly its end.
                try await stream.sendStatusUpdate(flushed: commit.endLSN)
                #expect(stream.confirmedFlushed == commit.endLSN)
                var confirmed = try await Self.confirmedFlush(conn, slotName)
                let confirmDeadline = ContinuousClock.now + .seconds(10)
                while confirmed != commit.endLSN, ContinuousClock.now < confirmDeadline {
                    // Keep serving the stream while waiting (keepalives), as a real consumer does.
                    _ = try await stream.receive(timeout: .milliseconds(100))
                    confirmed = try await Self.confirmedFlush(conn, slotName)
                }
                #expect(confirmed == commit.endLSN)

                // The server's WAL moves on (DDL elsewhere): nothing beyond what was confirmed is
                // reported.
                try await conn.execute("CREATE TABLE \(PostgresSQL.qualifiedName(schema: schema, name: "other")) (x int)")
                let idle = try await stream.receive(timeout: .seconds(2))
                #expect(idle.messages.isEmpty)
                #expect(!idle.endOfStream)
                #expect(try await Self.confirmedFlush(conn, slotName) == commit.endLSN)

                // A lower value never moves progress back.
                stream.confirm(flushed: slot.consistentPoint)
                #expect(stream.confirmedFlushed == commit.endLSN)

                // requestStop ends a long receive promptly (the receive checks it every 100 ms on
                // the connection's thread). The stop is requested from a GCD thread, not a pool
                // task: this measures the stream, not how busy the cooperative pool is. (Under the
                // full suite, tests that blocked pool threads in librdkafka flushes and process
                // waits once made a 300 ms pool timer wake 14 s late; they run off the pool now.)
                let started = ContinuousClock.now
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(300)) { stream.requestStop() }
                let stopped = try await stream.receive(timeout: .seconds(60))
                #expect(stopped.stopped)
                #expect(ContinuousClock.now - started < .seconds(5), "stopped after \(ContinuousClock.now - started)")

                // Back to command mode on the same connection; drop the slot there.
                try await stream.stopReplication()
                try await stream.dropSlot(slotName, wait: true)
                #expect(try await conn.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", parameters: [slotName]).isEmpty)
                await stream.close()
            } catch {
                await stream.close()
                try? await Self.dropSlotEventually(conn, slotName)
                try? await conn.execute("DROP PUBLICATION IF EXISTS \(publication)")
                throw error
            }
            try await Self.dropSlotEventually(conn, slotName)
            try await conn.execute("DROP PUBLICATION \(publication)")
        }
    }

    /// A server asking for a reply after 5 s of silence (wal_sender_timeout 10 s): one 14 s receive,
    /// which runs on the stream's own thread, answers its keepalives, so the connection survives;
    /// the idle server's WAL position is reported. (2 s was too tight: under the parallel suite the
    /// hop from startReplication to the receive alone can wait that long.)
    @Test func keepalivesAreAnsweredWhileReceiving() async throws {
        // The hop from startReplication to the receive below waits for a cooperative thread, and in
        // the full parallel suite hundreds of tests queue on the pool's 2 threads: CI saw the
        // receive start 20 s late. The stream's between-receive heartbeat (which production relies
        // on for such gaps) covers the hop: every 7 s, under the 10 s timeout, and longer than the
        // 5 s after which the server asks for a reply, so the receive still answers keepalive
        // requests. (The heartbeat used to wake once per interval and could let two pass between
        // updates; it now wakes several times per interval.)
        try await withIdleSlotStream("keep", walSenderTimeout: "10s", statusInterval: .seconds(7)) { stream, _, _, consistentPoint in
            let idle = try await stream.receive(timeout: .seconds(14))
            #expect(!idle.endOfStream)
            #expect(idle.serverWALEnd >= consistentPoint)
            #expect(try await stream.keepalivesAnswered() >= 1)
            let after = try await stream.receive(timeout: .milliseconds(200))
            #expect(!after.endOfStream, "the connection survived the idle time")
        }
    }

    /// A caller that does not receive for longer than wal_sender_timeout (a source blocked behind a
    /// slow sink) keeps its connection: the stream sends its status updates between receives.
    @Test func statusUpdatesContinueBetweenReceives() async throws {
        try await withIdleSlotStream("beat", walSenderTimeout: "2s", statusInterval: .milliseconds(500)) {
            stream, conn, slotName, _ in
            // Three timeouts' worth without a receive.
            try await Task.sleep(for: .seconds(6))
            let active = try await conn.query(
                "SELECT active::text FROM pg_replication_slots WHERE slot_name = $1", parameters: [slotName])
            #expect(active.first?.first == "true", "the walsender is still there")
            let after = try await stream.receive(timeout: .milliseconds(300))
            #expect(!after.endOfStream, "the connection survived")
        }
    }

    /// The heartbeat keeps its interval whatever its phase against the last update: an interval of
    /// 2 s under a 3 s timeout survives 8 s without a receive. (Woken once per interval, the
    /// heartbeat let almost two intervals, ~4 s, pass before its first update and the walsender
    /// ended the connection.)
    @Test func statusUpdatesKeepTheirIntervalWhateverThePhase() async throws {
        try await withIdleSlotStream("phase", walSenderTimeout: "3s", statusInterval: .seconds(2)) {
            stream, conn, slotName, _ in
            try await Task.sleep(for: .seconds(8))
            let active = try await conn.query(
                "SELECT active::text FROM pg_replication_slots WHERE slot_name = $1", parameters: [slotName])
            #expect(active.first?.first == "true", "the walsender is still there")
            let after = try await stream.receive(timeout: .milliseconds(300))
            #expect(!after.endOfStream, "the connection survived")
        }
    }

    /// A stream on a new slot of an empty publication (nothing to decode), with the server's
    /// `wal_sender_timeout`; slot, publication and connections go afterwards, whatever `body` did.
    func withIdleSlotStream(
        _ name: String, walSenderTimeout: String, statusInterval: Duration = .seconds(10),
        _ body: (ReplicationStream, PostgresConnection, String, LSN) async throws -> Void
    ) async throws {
        try PostgresTestServer.require()
        let url = try await PostgresTestServer.isolatedDatabase(Self.database)
        let conn = try await PostgresConnection.connect(url: url)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let slotName = "dpone_test_\(name)_\(suffix)"
        let publication = "dpone_test_pub_\(suffix)"
        try await conn.execute("CREATE PUBLICATION \(publication)")
        let stream = try await ReplicationStream.connect(url: url, settings: ["wal_sender_timeout": walSenderTimeout])
        do {
            let slot = try await stream.createSlot(slotName, snapshot: .nothing)
            try await stream.startReplication(
                slot: slotName, from: slot.consistentPoint, publications: [publication], statusInterval: statusInterval)
            try await body(stream, conn, slotName, slot.consistentPoint)
        } catch {
            await stream.close()
            try? await Self.dropSlotEventually(conn, slotName)
            try? await conn.execute("DROP PUBLICATION IF EXISTS \(publication)")
            await conn.close()
            throw error
        }
        await stream.close()
        try await Self.dropSlotEventually(conn, slotName)
        try await conn.execute("DROP PUBLICATION \(publication)")
        await conn.close()
    }

    /// A walsender that goes away mid-stream (terminated here) is an error of `receive`, not an
    /// empty result or a hang.
    @Test func terminatedWalSenderFailsTheReceive() async throws {
        try PostgresTestServer.require()
        let url = try await PostgresTestServer.isolatedDatabase(Self.database)
        let conn = try await PostgresConnection.connect(url: url)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let slotName = "dpone_test_term_\(suffix)"
        let publication = "dpone_test_pub_\(suffix)"
        try await conn.execute("CREATE PUBLICATION \(publication)")
        let stream = try await ReplicationStream.connect(url: url)
        do {
            let slot = try await stream.createSlot(slotName, snapshot: .nothing)
            try await stream.startReplication(slot: slotName, from: slot.consistentPoint, publications: [publication])
            _ = try await stream.receive(timeout: .milliseconds(200))
            _ = try await conn.query(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1", parameters: [slotName])
            let started = ContinuousClock.now
            await #expect(throws: PostgresError.self) {
                while ContinuousClock.now - started < .seconds(10) { _ = try await stream.receive(timeout: .seconds(1)) }
            }
        } catch {
            await stream.close()
            try? await Self.dropSlotEventually(conn, slotName)
            try? await conn.execute("DROP PUBLICATION IF EXISTS \(publication)")
            await conn.close()
            throw error
        }
        await stream.close()
        try await Self.dropSlotEventually(conn, slotName)
        try await conn.execute("DROP PUBLICATION \(publication)")
        await conn.close()
    }

    /// The pre-15 spelling (`EXPORT_SNAPSHOT`, `NOEXPORT_SNAPSHOT`) still works, temporary slots go
    /// away with the connection, and bad names or slots fail with clear errors.
    @Test func legacySlotSyntaxTemporarySlotsAndErrors() async throws {
        try PostgresTestServer.require()
        let url = try await PostgresTestServer.isolatedDatabase(Self.database)
        let conn = try await PostgresConnection.connect(url: url)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let exported = "dpone_test_legacy_\(suffix)"
        let temporary = "dpone_test_temp_\(suffix)"
        let stream = try await ReplicationStream.connect(url: url)
        do {
            let a = try await stream.createSlot(exported, snapshot: .export, syntax: .legacy)
            #expect(a.snapshotName != nil)
            #expect(a.consistentPoint > .invalid)
            let b = try await stream.createSlot(temporary, temporary: true, snapshot: .nothing, syntax: .legacy)
            #expect(b.snapshotName == nil)
            let c = try await stream.createSlot("dpone_test_opt_\(suffix)", temporary: true, snapshot: .nothing, syntax: .options)
            #expect(c.snapshotName == nil)
            let slots = try await conn.query(
                "SELECT slot_name, temporary::text, plugin FROM pg_replication_slots WHERE slot_name LIKE $1 ORDER BY slot_name",
                parameters: ["%_\(suffix)"])
            #expect(
                slots == [
                    [exported, "false", "pgoutput"], ["dpone_test_opt_\(suffix)", "true", "pgoutput"], [temporary, "true", "pgoutput"],
                ])

            await #expect(throws: DponeError.self) { try await stream.createSlot("Bad-Name") }
            do {
                _ = try await stream.createSlot(exported)
                Issue.record("a second slot of the same name was created")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42710")
            }
            do {
                try await stream.startReplication(slot: "dpone_test_missing_\(suffix)", publications: ["p"])
                Issue.record("streamed from a missing slot")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42704")
            }
            await #expect(throws: PostgresError.self) { _ = try await stream.receive(timeout: .milliseconds(10)) }
            try await stream.dropSlot(exported)
            await stream.close()
            // The temporary slots go with the session.
            for _ in 0..<100 {
                let left = try await conn.query("SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE $1", parameters: ["%_\(suffix)"])
                if left.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await conn.query("SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE $1", parameters: ["%_\(suffix)"]).isEmpty)
        } catch {
            await stream.close()
            try? await Self.dropSlotEventually(conn, exported)
            await conn.close()
            throw error
        }
        await conn.close()
    }
}
