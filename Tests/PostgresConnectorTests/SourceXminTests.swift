import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// `incremental_strategy: xmin` against the real server, including transactions left open while a
/// window is read.
///
/// Other tests (and other processes) share the server and may hold transactions open, which holds
/// a window's upper bound back. Tests that expect exact windows therefore first wait until the
/// server's snapshot horizon has passed their own writes (`waitForHorizon`).
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct SourceXminTests {
    static func upper(_ positions: StateValue?) throws -> UInt64 {
        try #require(positions?["xmin"]?["upper"]?.stringValue.flatMap { UInt64($0) })
    }

    /// Runs `sql` in one transaction on `conn` and returns its xid (xid8).
    static func write(_ conn: PostgresConnection, _ sql: String) async throws -> UInt64 {
        try await conn.execute("BEGIN")
        do {
            try await conn.execute(sql)
            let xid = try await currentXid(conn)
            try await conn.execute("COMMIT")
            return xid
        } catch {
            try? await conn.execute("ROLLBACK")
            throw error
        }
    }

    static func currentXid(_ conn: PostgresConnection) async throws -> UInt64 {
        let rows = try await conn.query("SELECT pg_current_xact_id()::text")
        let text = rows.first?.first ?? nil
        return try #require(text.flatMap { UInt64($0) })
    }

    /// Waits until every new snapshot's xmin is above `xid` (no transaction at or below it still runs).
    static func waitForHorizon(past xid: UInt64, on conn: PostgresConnection) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            let rows = try await conn.query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
            if let text = rows.first?.first ?? nil, let horizon = UInt64(text), horizon > xid { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the snapshot horizon did not pass xid \(xid) within 60 s")
    }

    static func idsAndValues(_ out: RecordingOutput) -> [Int64: String] {
        var result: [Int64: String] = [:]
        for row in out.rows { result[row[0].testInt64!] = row[1].testString ?? "" }
        return result
    }

    @Test func firstRunReadsAllThenOnlyWhatChanged() async throws {
        try await withTestSchema("src_xmin") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "items")
            try await conn.execute("CREATE TABLE \(t) (id int8 PRIMARY KEY, v text)")
            let seeded = try await Self.write(conn, "INSERT INTO \(t) SELECT g, 'v' || g FROM generate_series(1, 5) g")
            try await Self.waitForHorizon(past: seeded, on: conn)
            let options = sourceOptions(schema, "items", mode: .xmin)

            let first = try await readSource(options)
            #expect(Self.idsAndValues(first) == [1: "v1", 2: "v2", 3: "v3", 4: "v4", 5: "v5"])
            let upper1 = try Self.upper(first.positions)
            #expect(upper1 > seeded)

            let changed = try await Self.write(
                conn, "INSERT INTO \(t) VALUES (6, 'v6'), (7, 'v7'); UPDATE \(t) SET v = 'v2b' WHERE id = 2; DELETE FROM \(t) WHERE id = 4")
            try await Self.waitForHorizon(past: changed, on: conn)
            let second = try await readSource(options, resumeFrom: first.positions)
            #expect(Self.idsAndValues(second) == [2: "v2b", 6: "v6", 7: "v7"])  // the delete is invisible
            let upper2 = try Self.upper(second.positions)
            #expect(upper2 > changed && upper1 <= changed)

            let idle = try await readSource(options, resumeFrom: second.positions)
            #expect(idle.rowCount == 0)
            #expect(try Self.upper(idle.positions) >= upper2)

            // With a predicate and an allowlist the window still applies.
            let filtered = try await readSource(
                sourceOptions(schema, "items", columns: ["id"], predicate: "id > 5", mode: .xmin),
                resumeFrom: first.positions)
            #expect(Set(filtered.values("id").compactMap(\.testInt64)) == [6, 7])
        }
    }

    /// The acceptance scenario: an update in a transaction open while a window is read is not seen
    /// by that window, and is read by the next one.
    @Test func updateInAnOpenTransactionIsReadByTheNextRun() async throws {
        try await withTestSchema("src_xmin_open") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "items")
            try await conn.execute("CREATE TABLE \(t) (id int8 PRIMARY KEY, v text)")
            let seeded = try await Self.write(conn, "INSERT INTO \(t) SELECT g, 'v' || g FROM generate_series(1, 5) g")
            try await Self.waitForHorizon(past: seeded, on: conn)
            let options = sourceOptions(schema, "items", mode: .xmin)
            let first = try await readSource(options)
            #expect(first.rowCount == 5)

            let other = try await PostgresConnection.connect(url: PostgresTestServer.url)
            try await other.execute("BEGIN")
            try await other.execute("UPDATE \(t) SET v = 'uncommitted' WHERE id = 3")
            let openXid = try await Self.currentXid(other)
            let during = try await readSource(options, resumeFrom: first.positions)
            #expect(!Self.idsAndValues(during).values.contains("uncommitted"))
            #expect(try Self.upper(during.positions) <= openXid)
            try await other.execute("COMMIT")
            await other.close()

            try await Self.waitForHorizon(past: openXid, on: conn)
            let after = try await readSource(options, resumeFrom: during.positions)
            #expect(Self.idsAndValues(after)[3] == "uncommitted")
        }
    }

    /// 20 rounds of concurrent transactions (committed before, during or after a window, or rolled
    /// back): merging every window's rows by key ends with exactly the committed table.
    @Test func nothingIsSkippedAcrossInterleavedTransactions() async throws {
        try await withTestSchema("src_xmin_mix") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "items")
            try await conn.execute("CREATE TABLE \(t) (id int8 PRIMARY KEY, v text NOT NULL)")
            var writers: [PostgresConnection] = []
            for _ in 0..<3 { writers.append(try await PostgresConnection.connect(url: PostgresTestServer.url)) }
            var committed: [Int64: String] = [:]  // the model: what the table holds
            var merged: [Int64: String] = [:]  // the target: every window upserted by key
            var positions: StateValue?
            var nextID: Int64 = 1
            var lastXid: UInt64 = 0
            let source = try PostgresSource(options: sourceOptions(schema, "items", mode: .xmin, batchRows: 7))

            for round in 0..<20 {
                enum Outcome: CaseIterable { case before, after, rollback }
                var pending: [(conn: PostgresConnection, outcome: Outcome, writes: [Int64: String], xid: UInt64)] = []
                var taken = Set<Int64>()
                for (w, writer) in writers.enumerated() where Bool.random() || w == 0 {
                    var writes: [Int64: String] = [:]
                    try await writer.execute("BEGIN")
                    for op in 0..<Int.random(in: 1...4) {
                        let value = "r\(round)w\(w)o\(op)"
                        let candidates = committed.keys.filter { !taken.contains($0) }
                        if let id = candidates.randomElement(), Bool.random() {
                            taken.insert(id)
                            try await writer.execute("UPDATE \(t) SET v = '\(value)' WHERE id = \(id)")
                            writes[id] = value
                        } else {
                            let id = nextID
                            nextID += 1
                            taken.insert(id)
                            try await writer.execute("INSERT INTO \(t) VALUES (\(id), '\(value)')")
                            writes[id] = value
                        }
                    }
                    let xid = try await Self.currentXid(writer)
                    lastXid = max(lastXid, xid)
                    pending.append((writer, Outcome.allCases.randomElement()!, writes, xid))
                }
                if Bool.random() {
                    let id = nextID
                    nextID += 1
                    lastXid = max(lastXid, try await Self.write(conn, "INSERT INTO \(t) VALUES (\(id), 'auto\(round)')"))
                    committed[id] = "auto\(round)"
                }
                for p in pending where p.outcome == .before {
                    try await p.conn.execute("COMMIT")
                    committed.merge(p.writes) { $1 }
                }

                let out = RecordingOutput()
                try await source.run(into: out, resumeFrom: positions)
                let read = Self.idsAndValues(out)
                let invisible = pending.filter { $0.outcome != .before }
                let unseen = Set(invisible.flatMap { $0.writes.values })
                #expect(read.values.allSatisfy { !unseen.contains($0) }, "round \(round) read an uncommitted value")
                let upper = try Self.upper(out.positions)
                for p in invisible { #expect(upper <= p.xid, "round \(round): upper \(upper) passed open xid \(p.xid)") }
                if let previous = positions { #expect(upper >= (try Self.upper(previous))) }
                merged.merge(read) { $1 }
                positions = out.positions

                for p in invisible {
                    if p.outcome == .after {
                        try await p.conn.execute("COMMIT")
                        committed.merge(p.writes) { $1 }
                    } else {
                        try await p.conn.execute("ROLLBACK")
                    }
                }
            }
            for writer in writers { await writer.close() }

            try await Self.waitForHorizon(past: lastXid, on: conn)
            let final = RecordingOutput()
            try await source.run(into: final, resumeFrom: positions)
            merged.merge(Self.idsAndValues(final)) { $1 }
            #expect(merged == committed)
            #expect(committed.count > 20)
            let table = try await conn.query("SELECT id::text, v FROM \(t)")
            #expect(table.count == committed.count)
            for row in table { #expect(committed[Int64(row[0]!)!] == row[1]!) }
        }
    }
}
