import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

extension PostgresCDCStreamTests {
    static let workloadTables = ["t_default", "t_full", "t_toast"]

    /// Three tables: primary-key identity, REPLICA IDENTITY FULL, and one whose large out-of-line
    /// text is on every row and is left untouched by most updates.
    func setUpThreeTables(_ pg: PostgresConnection) async throws {
        var sql = "CREATE SCHEMA \(s);"
        for table in Self.workloadTables {
            let t = "\(s).\(table)"
            let big = table == "t_toast" ? "repeat(md5(i::text), 250)" : "CASE WHEN i % 3 = 0 THEN repeat(md5(i::text), 200) END"
            sql += """
                CREATE TABLE \(t) (id int PRIMARY KEY, name text, amount numeric(10,2), big text);
                ALTER TABLE \(t) ALTER COLUMN big SET STORAGE EXTERNAL;
                ALTER TABLE \(t) REPLICA IDENTITY \(table == "t_full" ? "FULL" : "DEFAULT");
                INSERT INTO \(t) SELECT i, 'n' || i, i * 1.5, \(big) FROM generate_series(1, 200) AS i;
                """
        }
        try await pg.execute(sql)
    }

    /// The TOAST table's workload: mostly updates that leave `big` alone, some inserts and deletes.
    func toastStep(_ pg: PostgresConnection, _ i: Int) async throws {
        let t = "\(s).t_toast"
        switch i % 5 {
        case 0: try await pg.execute("INSERT INTO \(t) VALUES (\(1_000_000 + i), 'ins', \(i), repeat('t', 5000))")
        case 1: try await pg.execute("DELETE FROM \(t) WHERE id = (SELECT id FROM \(t) ORDER BY random() LIMIT 1)")
        case 2: try await pg.execute("UPDATE \(t) SET amount = amount + 1, name = 'u\(i)' WHERE id = (SELECT id FROM \(t) ORDER BY random() LIMIT 1)")
        default: try await pg.execute("UPDATE \(t) SET name = 'v\(i)' WHERE id IN (SELECT id FROM \(t) ORDER BY random() LIMIT 3)")
        }
    }

    /// A source table's rows: id, name, amount in cents, the big text (compared whole).
    func tableRows(_ pg: PostgresConnection, _ table: String) async throws -> [[String?]] {
        try await pg.query("SELECT r.id::text, r.name, ((r.amount * 100)::bigint)::text, r.big FROM \(s).\(table) AS r ORDER BY r.id")
    }

    /// The Kafka target reduced to its live rows: the last value per key, a tombstone deleting it.
    static func kafkaRows(_ records: [KafkaTestServer.Record]) -> [[String?]] {
        var live: [Int: [String?]] = [:]
        var last: [Int: [String?]] = [:]  // kept across tombstones: a moved row's old values
        for record in records.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            guard let keyText = record.key, let key = try? JSONSerialization.jsonObject(with: Data(keyText.utf8)) as? [String: Any],
                let id = (key["id"] as? NSNumber)?.intValue
            else { continue }
            guard let valueText = record.value,
                let value = try? JSONSerialization.jsonObject(with: Data(valueText.utf8)) as? [String: Any]
            else {
                live[id] = nil
                continue
            }
            let amount: Double? = (value["amount"] as? NSNumber)?.doubleValue ?? (value["amount"] as? String).flatMap(Double.init)
            var previous = live[id]
            if let moved = record.headers["dpone.moved_from"],
                let old = try? JSONSerialization.jsonObject(with: Data(moved.utf8)) as? [String: Any],
                let oldID = (old["id"] as? NSNumber)?.intValue
            {
                previous = last[oldID]
            }
            // A column missing from the value was unchanged (TOAST): the key keeps its previous value.
            func field(_ name: String, _ index: Int, _ present: String?) -> String? {
                value.keys.contains(name) ? present : (previous?[index] ?? nil)
            }
            live[id] = [
                String(id), field("name", 1, value["name"] as? String),
                field("amount", 2, amount.map { String(Int(($0 * 100).rounded())) }), field("big", 3, value["big"] as? String),
            ]
            last[id] = live[id]
        }
        return live.keys.sorted().map { live[$0]! }
    }

    /// The acceptance workload: three tables (default identity, FULL, TOASTed text) changed
    /// concurrently while three `dpone stream` processes replicate them into PostgreSQL, ClickHouse
    /// (18.16) and Kafka, each process streaming all three tables on one slot (`cdc.tables`) into a
    /// target per table; after the workload stops and the streams drain, every target equals its
    /// source exactly, and SIGTERM ends every stream with 0.
    @Test func threeTablesIntoPostgresClickHouseAndKafkaConverge() async throws {
        try PostgresTestServer.require()
        try ClickHouseTestServer.legacy.require()
        try KafkaTestServer.require()
        let database = ClickHouseTestServer.uniqueDatabaseName("cdc3")
        let ch = try ClickHouseClient(url: ClickHouseTestServer.legacy.url)
        var topics: [String: String] = [:]
        try await withDatabase { pg in
            try await setUpThreeTables(pg)
            var workers: [(String, StreamProcess)] = []
            for table in Self.workloadTables {
                // One partition: the reduction below follows key changes across keys in topic order.
                topics[table] = try KafkaTestServer.createTopic("cdc3", partitions: 1)
            }
            let entries = Self.workloadTables.map { "{table: \(schema).\($0), sink_topic: \(topics[$0]!)}" }.joined(separator: ", ")
            let sinks = [
                ("pg", "{type: postgres, connection: {url: \"\(url)\"}, table: \"\(schema).{table}_dst\", strategy: {mode: cdc_apply}}"),
                ("ch", "{type: clickhouse, connection: {url: \"\(ClickHouseTestServer.legacy.url)\"}, table: {schema: \(database), name: \"{table}\"}, strategy: {mode: cdc_apply}}"),
                ("kafka", "{type: kafka, connection: {url: \"\(try KafkaTestServer.url)\"}, strategy: {mode: cdc_apply}}"),
            ]
            for (kind, sink) in sinks {
                let name = "three_\(kind)"
                let path = "\(dir)/\(name).yml"
                try """
                    name: \(name)
                    source:
                      type: postgres
                      connection: {url: "\(url)"}
                      options: {cdc: {slot: \(slot)_\(name), publication: \(publication)_\(name), tables: [\(entries)]}}
                    sink: \(sink)
                    state: {dir: \(dir)/state-\(name)}
                    """.write(toFile: path, atomically: true, encoding: .utf8)
                workers.append((name, try StreamProcess(["stream", path, "--checkpoint-interval", "500ms"], log: "\(dir)/\(name).log")))
            }
            // The workload: one connection and task per table, concurrently, for a few seconds.
            let stop = Flag()
            var tasks: [Task<Int, any Error>] = []
            for table in Self.workloadTables {
                let writer = try await PostgresConnection.connect(url: url)
                tasks.append(
                    Task {
                        var i = 0
                        while !stop.isSet {
                            if table == "t_toast" { try await toastStep(writer, i) } else { try await workloadStep(writer, i, table: table) }
                            i += 1
                            try await Task.sleep(for: .milliseconds(10))
                        }
                        await writer.close()
                        return i
                    })
            }
            try await Task.sleep(for: .seconds(8))
            stop.set()
            var steps = 0
            for task in tasks { steps += try await task.value }
            #expect(steps > 30, "the workload ran (\(steps) steps)")
            // Drain: every target equal to its source.
            for table in Self.workloadTables {
                let want = try await tableRows(pg, table)
                let workerLog = { (kind: String) in workers.first { $0.0 == "three_\(kind)" }?.1.output ?? "" }
                var pgRows: [[String?]] = []
                var chRows: [[String?]] = []
                var kafkaRows: [[String?]] = []
                let deadline = Date().addingTimeInterval(120)
                while Date() < deadline {
                    pgRows = (try? await tableRows(pg, "\(table)_dst")) ?? []
                    chRows = (try? await ch.queryNullableRows(
                        "SELECT toString(id), name, toString(toInt64(amount * 100)), big FROM `\(database)`.`\(table)` FINAL WHERE __dpone__is_deleted = 0"
                    ).sorted { (Int($0[0] ?? "") ?? 0) < (Int($1[0] ?? "") ?? 0) }) ?? []
                    kafkaRows = Self.kafkaRows((try? await KafkaTestServer.consumeAllOffPool(topics[table] ?? "", partitions: 1)) ?? [])
                    if pgRows == want, chRows == want, kafkaRows == want { break }
                    try await Task.sleep(for: .milliseconds(500))
                }
                #expect(pgRows == want, "\(table) -> postgres: \(pgRows.count) of \(want.count) rows\n\(workerLog("pg"))")
                #expect(chRows == want, "\(table) -> clickhouse: \(chRows.count) of \(want.count) rows\n\(workerLog("ch"))")
                #expect(kafkaRows == want, "\(table) -> kafka: \(kafkaRows.count) of \(want.count) rows\n\(workerLog("kafka"))")
            }
            for (name, worker) in workers {
                #expect(await worker.stop() == 0, "\(name): \(worker.output)")
            }
            // Every pipeline's slot and publication go with the database scaffold's clean-up.
            for kind in ["pg", "ch", "kafka"] {
                let name = "three_\(kind)"
                for _ in 0..<50 {
                    let dropped = try? await pg.query(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
                        parameters: ["\(slot)_\(name)"])
                    if dropped?.isEmpty == false { break }
                    if (try? await pg.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", parameters: ["\(slot)_\(name)"]).isEmpty) ?? true { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                try? await pg.execute("DROP PUBLICATION IF EXISTS \(PostgresSQL.quoteIdentifier("\(publication)_\(name)"))")
            }
        }
        try? await ch.execute("DROP DATABASE IF EXISTS `\(database)`", idempotent: true)
        await ch.close()
    }
}
