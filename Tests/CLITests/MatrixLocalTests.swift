import BigQueryConnector
import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Pipeline
import PostgresConnector
import Synchronization
import Testing

/// The local layer of the integration matrix: every case whose systems run here, end to end through
/// the `dpone` binary on the local services, after two loads of the behaviour model.
///
/// The model: `MatrixLocal.rows` rows; then 20 % of them change (a new version, name and amount),
/// 5 % are deleted and 2 % are new. Each case asserts its strategy's semantics on the target,
/// compared over the columns every system holds alike (id, version, bucket, name with NULLs and
/// unicode, amount as an exact decimal, active, day).
enum MatrixLocal {
    static let rows = 10_000
    static let changed = Set(stride(from: 1, through: rows, by: 5))  // 20 %
    static let deleted = Set(stride(from: 3, through: rows, by: 20))  // 5 %
    static let new = (rows + 1)...(rows + rows / 50)  // 2 %

    /// A model row, canonical: id, version, bucket, name, amount, active, day.
    typealias Row = [String?]

    static func row(_ id: Int, version: Int) -> Row {
        let name: String? = id % 7 == 0 ? nil : (version == 1 ? "n\(id) ünï 漢" : "changed \(id)")
        let cents = (id * 12_345 + version) % 100_000_000
        // Every 13th amount at the edge of decimal(18,4), either sign: exact end to end or not at all.
        let amount = id % 13 == 0
            ? trim("\(id % 2 == 0 ? "-" : "")99999999999999.99\(String((id + version) % 100).leftPadded(2))")
            : trim("\(cents / 10_000).\(String(cents % 10_000).leftPadded(4))")
        // Dates at both ends of the range every local system holds (ClickHouse 18.16's Date:
        // 1970 to 2105), else 2026-01-01 plus n days.
        let day = id % 17 == 0 ? 1 : id % 19 == 0 ? 49_000 + id % 300 : 20_454 + id % 400
        return ["\(id)", "\(version)", "\(id % 4)", name, amount, id % 3 == 0 ? "true" : "false", dayText(day)]
    }

    static func dayText(_ days: Int) -> String {
        var out: [UInt8] = []
        ScalarFormatting.appendDate(days: Int32(days), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The rows after the first load's seed.
    /// (Built once: a computed `first` looked up per row made the Kafka seed quadratic.)
    static let first: [Int: Row] = Dictionary(uniqueKeysWithValues: (1...rows).map { ($0, row($0, version: 1)) })

    /// The rows after the changes.
    static let second: [Int: Row] = {
        var r = first
        for id in changed { r[id] = row(id, version: 2) }
        for id in deleted { r[id] = nil }
        for id in new { r[id] = row(id, version: 2) }
        return r
    }()

    /// What the second read returns: everything (a full read) or only what changed since the first.
    static let changedRows: [Int: Row] = second.filter { changed.contains($0.key) || new.contains($0.key) }

    static func sorted(_ rows: [Row]) -> [Row] {
        rows.sorted { Int($0[0] ?? "0")! < Int($1[0] ?? "0")! || (Int($0[0] ?? "0")! == Int($1[0] ?? "0")! && ($0[1] ?? "") < ($1[1] ?? "")) }
    }

    /// One spelling per value: decimals without trailing zeros, booleans as true/false.
    static func normalize(_ row: [String?]) -> Row {
        row.enumerated().map { i, value in
            guard let value, value != "\\N" else { return nil }
            switch i {
            case 4: return trim(value)
            case 5: return value == "1" || value == "t" || value == "true" ? "true" : "false"
            default: return value
            }
        }
    }

    static func trim(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var out = text
        while out.hasSuffix("0") { out.removeLast() }
        if out.hasSuffix(".") { out.removeLast() }
        return out
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// The REST API of a case with a REST source (a fixture, as the integration page allows): the model
/// rows at `/page?page=N[&per_page=P][&since=T][&bucket=B]` → `{"data": [...], "total_pages": T}`.
/// `since` keeps rows whose `updated_at` is later (version 1 rows are in January, version 2 rows in
/// February, a second apart by id); `bucket` keeps that bucket (the replace window).
final class MatrixRESTSource: Sendable {
    final class Rows: Sendable {
        let value = Mutex<[Int: MatrixLocal.Row]>([:])
    }
    let rows = Rows()
    let server: RESTTestServer

    init() throws {
        let rows = self.rows
        server = try RESTTestServer { request in Self.handle(request, rows.value.withLock { $0 }) }
    }

    static func updatedAt(_ r: MatrixLocal.Row) -> String {
        let second = Int(r[0]!)!
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "2026-0\(r[1]!)-01T\(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60))Z"
    }

    static func record(_ r: MatrixLocal.Row) -> String {
        let name = r[3].map { "\"\($0)\"" } ?? "null"
        return "{\"id\":\(r[0]!),\"version\":\(r[1]!),\"bucket\":\(r[2]!),\"name\":\(name),\"amount\":\(r[4]!),\"score\":\(r[0]!).5,"
            + "\"active\":\(r[5]!),\"day\":\"\(r[6]!)\",\"updated_at\":\"\(updatedAt(r))\",\"payload\":{\"id\":\(r[0]!)}}"
    }

    static func handle(_ request: RESTTestRequest, _ rows: [Int: MatrixLocal.Row]) -> RESTTestResponse {
        guard request.path == "/page" else { return .json("{\"error\":\"no route \(request.path)\"}", status: 404) }
        // Compared to the second (a cursor may come back with fractional digits).
        let since = request.query["since"].map { String($0.prefix(19)) }
        let bucket = request.query["bucket"]
        let selected = rows.keys.sorted().map { rows[$0]! }.filter { r in
            (since.map { String(updatedAt(r).prefix(19)) > $0 } ?? true) && (bucket.map { r[2] == $0 } ?? true)
        }
        let per = Int(request.query["per_page"] ?? "") ?? 250
        let page = Int(request.query["page"] ?? "1") ?? 1
        let pages = max(1, (selected.count + per - 1) / per)
        let window = selected.dropFirst((page - 1) * per).prefix(per)
        return .json("{\"data\":[" + window.map(record).joined(separator: ",") + "],\"total_pages\":\(pages)}")
    }
}

/// The expected target of a case after both loads, and how the sink is read back.
struct MatrixExpectation {
    /// Rows of the target (current rows for scd2), sorted.
    var rows: [MatrixLocal.Row]
    /// scd2: closed history rows.
    var closed: Int?

    static func of(_ c: MatrixCase) -> MatrixExpectation {
        let first = MatrixLocal.first
        let second = MatrixLocal.second
        let kafka = c.source == "kafka"
        // What the second load reads: a Kafka topic and an incremental read bring what changed.
        let partial = kafka || c.strategy.readsIncrementally || c.strategy == .xmin
        let read2 = partial ? MatrixLocal.changedRows : second
        func merged(deletes: Bool) -> [MatrixLocal.Row] {
            var r = first.merging(read2) { $1 }
            if deletes { for id in MatrixLocal.deleted { r[id] = nil } }
            return MatrixLocal.sorted(Array(r.values))
        }
        switch c.strategy {
        case .fullRefresh:
            if c.sink == "kafka" { return MatrixExpectation(rows: merged(deletes: false)) }  // snapshot events folded by key
            return MatrixExpectation(rows: MatrixLocal.sorted(Array(read2.values)))
        case .incrementalAppend:
            return MatrixExpectation(rows: MatrixLocal.sorted(Array(first.values) + Array(read2.values)))
        case .incrementalMerge, .xmin, .cdc:
            return MatrixExpectation(rows: merged(deletes: kafka || c.strategy == .cdc))
        case .replace:
            return MatrixExpectation(rows: MatrixLocal.sorted(second.values.filter { $0[2] == "1" }))
        case .snapshotDiff, .partitionReplace:
            if c.sink == "kafka" { return MatrixExpectation(rows: merged(deletes: c.strategy == .snapshotDiff)) }
            return MatrixExpectation(rows: MatrixLocal.sorted(Array(second.values)))
        case .scd2:
            return MatrixExpectation(rows: MatrixLocal.sorted(Array(second.values)), closed: MatrixLocal.changed.count + MatrixLocal.deleted.count)
        case .backfill:
            // Each load is a backfill of its own over ids 1...10,200 with inner replace: every chunk's
            // window is rewritten from the source, so the target ends as the second state.
            return MatrixExpectation(rows: MatrixLocal.sorted(Array(second.values)))
        }
    }
}

/// One case's systems: the source seeded and changed, the sink read back.
final class MatrixRun: @unchecked Sendable {
    let c: MatrixCase
    let namespace: String
    let dir: String
    var endpoints: MatrixEndpoints
    let clickhouse: ClickHouseTestServer
    var pg: PostgresConnection?
    let topic: String?
    let sinkTopic: String?
    let rest: MatrixRESTSource?
    /// Batch loads run so far.
    var loads = 0

    init(_ c: MatrixCase, clickhouse: ClickHouseTestServer) throws {
        self.c = c
        self.clickhouse = clickhouse
        namespace = "dpone_test_mx_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        dir = NSTemporaryDirectory() + "dpone-matrix-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        topic = c.source == "kafka" ? try KafkaTestServer.createTopic("mxsrc", partitions: 2) : nil
        sinkTopic = c.sink == "kafka" ? try KafkaTestServer.createTopic("mxdst", partitions: 2) : nil
        rest = c.source == "rest" ? try MatrixRESTSource() : nil
        endpoints = MatrixEndpoints(
            environment: [
                "DPONE_CONN_MATRIX_PG_URL": PostgresTestServer.url, "DPONE_CONN_MATRIX_CH_URL": clickhouse.url,
                "DPONE_CONN_MATRIX_KAFKA_URL": (try? KafkaTestServer.url) ?? "",
            ], restURL: rest?.server.url ?? "")
        endpoints.namespace = namespace
        endpoints.cdcSlot = namespace
        endpoints.cdcPublication = namespace
        endpoints.bigqueryProject = BigQueryTestServer.project
        if let topic { endpoints.sourceTopic = topic }
        if let sinkTopic { endpoints.sinkTopic = sinkTopic }
    }

    func close() async {
        if let pg {
            if c.strategy == .cdc {
                _ = try? await pg.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", parameters: [namespace])
                try? await pg.execute("DROP PUBLICATION IF EXISTS \(PostgresSQL.quoteIdentifier(namespace))")
            }
            try? await pg.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(namespace)) CASCADE")
            await pg.close()
        }
        if c.sink == "clickhouse" || c.source == "clickhouse", let client = try? ClickHouseClient(url: clickhouse.url) {
            try? await client.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(namespace))")
            await client.close()
        }
        rest?.server.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: the source

    func seed() async throws {
        switch c.source.rawValue {
        case "postgres":
            let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
            self.pg = pg
            let s = PostgresSQL.quoteIdentifier(namespace)
            try await pg.execute("CREATE SCHEMA \(s)")
            try await pg.execute(
                "CREATE TABLE \(s).src (id bigint PRIMARY KEY, version bigint, bucket int, name text, amount numeric(18,4), score float8, active bool, day date, updated_at timestamptz, payload jsonb)")
            try await insert(MatrixLocal.first.values.map { $0 })
        case "clickhouse":
            try await clickhouseSource(MatrixLocal.first, create: true)
        case "rest":
            rest!.rows.value.withLock { $0 = MatrixLocal.first }
        default:  // kafka
            try await KafkaTestServer.produce(topic!, MatrixLocal.first.keys.sorted().map { message(MatrixLocal.first[$0]!) })
        }
    }

    func change() async throws {
        switch c.source.rawValue {
        case "postgres":
            let s = PostgresSQL.quoteIdentifier(namespace)
            let ids = MatrixLocal.changed.sorted().map(String.init).joined(separator: ",")
            try await pg!.execute("DELETE FROM \(s).src WHERE id IN (\(ids))")
            try await insert(MatrixLocal.changed.sorted().map { MatrixLocal.row($0, version: 2) })
            try await pg!.execute("DELETE FROM \(s).src WHERE id IN (\(MatrixLocal.deleted.sorted().map(String.init).joined(separator: ",")))")
            try await insert(MatrixLocal.new.map { MatrixLocal.row($0, version: 2) })
            if c.strategy == .xmin { try await awaitXminHorizon() }
        case "clickhouse":
            // The table is rebuilt with the second state: changed rows carry version 2 (what the
            // cursor reads next), deleted rows are gone, new rows appear.
            try await clickhouseSource(MatrixLocal.second, create: false)
        case "rest":
            rest!.rows.value.withLock { $0 = MatrixLocal.second }
        default:
            let updates = MatrixLocal.changed.sorted().map { message(MatrixLocal.row($0, version: 2)) }
            let tombstones = MatrixLocal.deleted.sorted().map { KafkaTestServer.Message(key: "{\"id\":\($0)}", value: nil) }
            let news = MatrixLocal.new.map { message(MatrixLocal.row($0, version: 2)) }
            try await KafkaTestServer.produce(topic!, updates + tombstones + news)
        }
    }

    /// An xmin read takes rows up to the oldest transaction still open on the server (by design: a
    /// row of an open transaction could still commit below the stored position). Other tests run
    /// transactions on the same server at the same time, so the changes above are read only once
    /// every transaction older than them has ended: this waits for that (seen in CI: a second load
    /// that read nothing while a concurrent test held a transaction open).
    func awaitXminHorizon() async throws {
        let after = try await pg!.query("SELECT pg_current_xact_id()::text").first?[0].flatMap { UInt64($0) } ?? 0
        let deadline = ContinuousClock.now + .seconds(300)
        while true {
            let horizon = try await pg!.query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").first?[0].flatMap { UInt64($0) } ?? 0
            if horizon > after { return }
            guard ContinuousClock.now < deadline else {
                Issue.record("a transaction older than xid \(after) stayed open for 300 s: the xmin read cannot see the changes yet")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The model table on the case's ClickHouse engine, holding `rows`: types both engines have
    /// (DateTime for the timestamp, UInt8 for the flag). `updated_at` follows the version, so a
    /// row the change leaves alone is the same row in both loads.
    func clickhouseSource(_ rows: [Int: MatrixLocal.Row], create: Bool) async throws {
        let client = try ClickHouseClient(url: clickhouse.url)
        defer { Task { await client.close() } }
        let db = ClickHouseSQL.quoteIdentifier(namespace)
        if create { try await client.execute("CREATE DATABASE IF NOT EXISTS \(db)") }
        try await client.execute("DROP TABLE IF EXISTS \(db).src")
        try await client.execute(
            "CREATE TABLE \(db).src (id Int64, version Int64, bucket Int32, name Nullable(String), amount Decimal(18, 4), score Float64, "
                + "active UInt8, day Date, updated_at DateTime, payload String) ENGINE = MergeTree ORDER BY id")
        let ordered = rows.keys.sorted().map { rows[$0]! }
        for chunk in stride(from: 0, to: ordered.count, by: 1_000) {
            let values = ordered[chunk..<min(ordered.count, chunk + 1_000)].map { r in
                let name = r[3].map { "'\($0)'" } ?? "NULL"
                return "(\(r[0]!), \(r[1]!), \(r[2]!), \(name), \(r[4]!), \(r[0]!).5, \(r[5] == "true" ? 1 : 0), '\(r[6]!)', toDateTime('2026-01-01 00:00:00') + \(r[1]!), '{\"id\": \(r[0]!)}')"
            }
            try await client.execute("INSERT INTO \(db).src VALUES " + values.joined(separator: ", "))
        }
    }

    func insert(_ rows: [MatrixLocal.Row]) async throws {
        let s = PostgresSQL.quoteIdentifier(namespace)
        for chunk in stride(from: 0, to: rows.count, by: 500) {
            let values = rows[chunk..<min(rows.count, chunk + 500)].map { r in
                let name = r[3].map { "'\($0)'" } ?? "NULL"
                return "(\(r[0]!), \(r[1]!), \(r[2]!), \(name), \(r[4]!), \(r[0]!).5, \(r[5]!), '\(r[6]!)', now(), '{\"id\": \(r[0]!)}')"
            }
            try await pg!.execute("INSERT INTO \(s).src VALUES " + values.joined(separator: ", "))
        }
    }

    func message(_ r: MatrixLocal.Row) -> KafkaTestServer.Message {
        let name = r[3].map { "\"\($0)\"" } ?? "null"
        return KafkaTestServer.Message(
            key: "{\"id\":\(r[0]!)}",
            value: "{\"id\":\(r[0]!),\"version\":\(r[1]!),\"bucket\":\(r[2]!),\"name\":\(name),\"amount\":\(r[4]!),\"score\":\(r[0]!).5,\"active\":\(r[5]!),\"day\":\"\(r[6]!)\",\"updated_at\":\"2026-01-01T00:00:00Z\",\"payload\":{\"id\":\(r[0]!)}}")
    }

    // MARK: the sink

    /// The target's rows (current rows for scd2) and, for scd2, the closed ones.
    func target() async throws -> (rows: [MatrixLocal.Row], closed: Int?) {
        let cols = ["id", "version", "bucket", "name", "amount", "active", "day"]
        let scd2 = c.strategy == .scd2
        switch c.sink.rawValue {
        case "postgres":
            let t = "\(PostgresSQL.quoteIdentifier(namespace)).dst"
            let select = "SELECT " + cols.map { "\($0)::text" }.joined(separator: ", ") + " FROM \(t)"
            let rows = try await pg!.query(select + (scd2 ? " WHERE __dpone__is_current" : "")).map(MatrixLocal.normalize)
            let closed = scd2 ? Int(try await pg!.query("SELECT count(*)::text FROM \(t) WHERE NOT __dpone__is_current").first?[0] ?? "0") : nil
            return (MatrixLocal.sorted(rows), closed)
        case "clickhouse":
            let client = try ClickHouseClient(url: clickhouse.url)
            defer { Task { await client.close() } }
            let t = "\(ClickHouseSQL.quoteIdentifier(namespace)).dst"
            let final = c.strategy == .incrementalMerge || c.strategy == .xmin || c.strategy == .cdc ? " FINAL" : ""
            // NULL spelled apart from the empty string (the client reads `\N` as text).
            let select = "SELECT " + cols.map { "ifNull(toString(\($0)), '\\\\N')" }.joined(separator: ", ") + " FROM \(t)\(final)"
            let filter = scd2 ? " WHERE __dpone__is_current = 1" : c.strategy == .cdc ? " WHERE __dpone__is_deleted = 0" : ""
            let rows = try await client.queryRows(select + filter).map(MatrixLocal.normalize)
            let closed = scd2 ? Int(try await client.queryRows("SELECT toString(count()) FROM \(t) WHERE __dpone__is_current = 0").first?[0] ?? "0") : nil
            return (MatrixLocal.sorted(rows), closed)
        case "bigquery":
            let bq = BigQueryPipeline.client()
            let t = "`\(namespace)`.`dst`"
            let select = "SELECT " + cols.map { "CAST(`\($0)` AS STRING)" }.joined(separator: ", ") + " FROM \(t)"
            let rows = try await bq.query(select + (scd2 ? " WHERE `__dpone__is_current`" : "")).rows.map(MatrixLocal.normalize)
            let closed = scd2 ? try await bq.query("SELECT COUNT(*) FROM \(t) WHERE NOT `__dpone__is_current`").count : nil
            return (MatrixLocal.sorted(rows), closed)
        default:  // kafka: an event log folded by key (appends kept whole)
            // In load order (load ids are ULIDs, ordered in time), then partition order: without a
            // key, a row's two versions can sit in different partitions (seen in CI), so partition
            // order alone says nothing about which came last.
            let records = try await KafkaTestServer.consumeAllOffPool(sinkTopic!, partitions: 2).sorted {
                ($0.headers["dpone.load_id"] ?? "", $0.partition, $0.offset) < ($1.headers["dpone.load_id"] ?? "", $1.partition, $1.offset)
            }
            var folded: [String: MatrixLocal.Row] = [:]
            var appended: [MatrixLocal.Row] = []
            for record in records {
                guard let value = record.value, let data = value.data(using: .utf8),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                else {
                    if let key = record.key { folded[key] = nil }  // a tombstone
                    continue
                }
                // Keyed by the message key, or by the row's id when the strategy sends no key.
                let key = record.key ?? "{\"id\":\((object["id"] as? NSNumber)?.stringValue ?? "?")}"
                func text(_ k: String) -> String? {
                    switch object[k] {
                    case nil, is NSNull: nil
                    case let s as String: s
                    case let n as NSNumber: k == "active" ? (n.boolValue ? "true" : "false") : n.stringValue
                    case let other?: "\(other)"
                    }
                }
                let row = MatrixLocal.normalize(cols.map(text))
                folded[key] = row
                appended.append(row)
            }
            return (MatrixLocal.sorted(c.strategy == .incrementalAppend ? appended : Array(folded.values)), nil)
        }
    }

    // MARK: running

    /// A CDC case: `dpone stream` takes the snapshot of the first state, then replicates the change
    /// to the second; the target must reach each state exactly (polled, up to 120 s each); SIGTERM
    /// ends it with exit 0. Returns nil when all of that held, and the process's output.
    func stream() async throws -> (String?, String) {
        let manifest = "\(dir)/\(c.id).yml"
        try MatrixManifest.render(c, endpoints: endpoints, stateDirectory: "\(dir)/state").write(toFile: manifest, atomically: true, encoding: .utf8)
        var environment = endpoints.environment.merging(BigQueryTestServer.processEnvironment) { $1 }
        environment["DPONE_LOG_LEVEL"] = "info"
        let process = try StreamProcess(["stream", manifest, "--checkpoint-interval", "500ms"], log: "\(dir)/stream.log", environment: environment)
        defer { process.terminateIfRunning() }
        func converge(to expected: [MatrixLocal.Row], _ what: String) async throws -> String? {
            let deadline = ContinuousClock.now + .seconds(120)
            var actual: [MatrixLocal.Row] = []
            while ContinuousClock.now < deadline {
                guard process.process.isRunning else { return "the stream exited during \(what): \(process.output.suffix(1500))" }
                actual = (try? await target().rows) ?? []
                if actual == expected { return nil }
                try await Task.sleep(for: .milliseconds(250))
            }
            return "\(what): \(actual.count) rows, expected \(expected.count); first difference "
                + "\(String(describing: zip(actual, expected).first { $0.0 != $0.1 })); \(process.output.suffix(1500))"
        }
        if let problem = try await converge(to: MatrixLocal.sorted(Array(MatrixLocal.first.values)), "the snapshot") { return (problem, process.output) }
        try await change()
        if let problem = try await converge(to: MatrixExpectation.of(c).rows, "the changes") { return (problem, process.output) }
        let status = await process.stop(within: 60)
        return (status == 0 ? nil : "SIGTERM ended the stream with \(String(describing: status)): \(process.output.suffix(1500))", process.output)
    }

    func run() async throws -> CLI.Output {
        loads += 1
        endpoints.backfillID = "load\(loads)"
        let manifest = "\(dir)/\(c.id).yml"
        try MatrixManifest.render(c, endpoints: endpoints, stateDirectory: "\(dir)/state").write(toFile: manifest, atomically: true, encoding: .utf8)
        var environment = endpoints.environment.merging(BigQueryTestServer.processEnvironment) { $1 }
        environment["DPONE_LOG_LEVEL"] = "warning"
        return try await CLI.run(["batch", manifest, "--progress", "none"], environment: environment)
    }
}

@Suite("Integration matrix: local layer", .tags(.integrationMatrix), IntegrationGate.matrix.trait, .serialized)
struct MatrixLocalTests {
    /// The sources and sinks this layer drives so far, and the strategies it runs: the others stay
    /// in the contract layer (see the matrix artifact). A case with a ClickHouse source or sink runs
    /// on both engines (18.16 and the modern one), source and sink on the same one.
    static let sources: Set<String> = ["postgres", "clickhouse", "rest", "kafka"]
    static let sinks: Set<String> = ["postgres", "clickhouse", "bigquery", "kafka"]
    static let strategies: Set<MatrixStrategy> = [.fullRefresh, .incrementalAppend, .incrementalMerge, .replace, .snapshotDiff, .partitionReplace, .scd2, .xmin, .cdc, .backfill]

    static func inScope(_ c: MatrixCase) -> Bool {
        sources.contains(c.source.rawValue) && sinks.contains(c.sink.rawValue) && strategies.contains(c.strategy)
    }

    static let local: [MatrixCase] = IntegrationMatrix.select(IntegrationMatrix.cases(), environment: ProcessInfo.processInfo.environment)
        .filter(inScope)

    /// Cases whose strategy's semantics the build does not deliver yet: each asserts what happens
    /// today, so that a fix makes it fail and move to the exact cases.
    static func knownGap(_ c: MatrixCase) -> String? {
        // (A Kafka source forwards its tombstones, so kafka_to_kafka deletes.)
        guard c.sink == "kafka", c.strategy == .snapshotDiff, c.source != "kafka" else { return nil }
        return "the Kafka sink keeps no previous snapshot to diff against: a source row deleted between runs produces no tombstone "
            + "(the topic folds to upserts only; documented in the README)"
    }

    /// Outcomes of the cases run in this process, for the artifact.
    static let results = Mutex<[String: MatrixArtifact.Entry]>([:])

    /// With `DPONE_MATRIX_ARTIFACT_DIR`: each case's runs' output goes to `<date>_local-logs/<case>.log`
    /// beside the report; returns the path relative to the report.
    static func keepLog(_ id: String, _ text: String) -> String? {
        guard let directory = ProcessInfo.processInfo.environment["DPONE_MATRIX_ARTIFACT_DIR"] else { return nil }
        let folder = "\(ISO8601DateFormatter().string(from: Date()).prefix(10))_local-logs"
        try? FileManager.default.createDirectory(atPath: "\(directory)/\(folder)", withIntermediateDirectories: true)
        try? text.write(toFile: "\(directory)/\(folder)/\(id).log", atomically: true, encoding: .utf8)
        return "\(folder)/\(id).log"
    }

    static func record(_ c: MatrixCase, _ outcome: String, _ detail: String?, outputs: [String] = []) {
        var entry = MatrixArtifact.Entry(
            id: c.id, source: c.source.rawValue, sink: c.sink.rawValue, strategy: c.strategy.rawValue, outcome: outcome, detail: detail)
        for output in outputs { entry.addRun(output: output) }
        entry.log = keepLog(c.id, outputs.joined(separator: "\n"))
        results.withLock { $0[c.id] = entry }
    }

    @Test(arguments: local.map(\.id))
    func caseRunsExactlyOnTheLocalServices(_ id: String) async throws {
        let c = try #require(IntegrationMatrix.cases().first { $0.id == id })
        let contract = await MatrixContract.run(c)
        guard contract.outcome == .planned else {
            // Refused by validation: the run refuses it too, with the same diagnostic.
            let (ok, output) = try await expectRefused(c, contract)
            Self.record(c, ok ? "refused" : "fail", contract.diagnostic, outputs: [output])
            return
        }
        try PostgresTestServer.require()
        try KafkaTestServer.require()
        try BigQueryTestServer.require()
        let onClickHouse = c.sink == "clickhouse" || c.source == "clickhouse"
        let engines: [ClickHouseTestServer] = onClickHouse ? [.legacy, .modern] : [.legacy]
        var passed = true
        var outputs: [String] = []
        for engine in engines {
            if onClickHouse { try engine.require() }
            let run = try MatrixRun(c, clickhouse: engine)
            try await run.seed()
            if c.strategy == .cdc {
                let (problem, output) = try await run.stream()
                outputs.append("== \(engine.name): dpone stream\n" + output)
                #expect(problem == nil, "\(id) on \(engine.name): \(problem ?? "")")
                passed = passed && problem == nil
                await run.close()
                continue
            }
            let first = try await run.run()
            #expect(first.status == 0, "\(id) first load: \(first.stdout) \(first.stderr)")
            try await run.change()
            let second = try await run.run()
            if c.source != "postgres" { run.pg = try await PostgresConnection.connect(url: PostgresTestServer.url) }
            var expected = MatrixExpectation.of(c)
            if Self.knownGap(c) != nil {
                // Upserts of the second snapshot over the first, nothing deleted.
                #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
                expected = MatrixExpectation(rows: MatrixLocal.sorted(Array(MatrixLocal.first.merging(MatrixLocal.second) { $1 }.values)))
            } else {
                #expect(second.status == 0, "\(id) second load: \(second.stdout) \(second.stderr)")
            }
            outputs += ["== \(engine.name): first load\n\(first.stdout)\(first.stderr)", "== \(engine.name): second load\n\(second.stdout)\(second.stderr)"]
            let actual = try await run.target()
            #expect(actual.rows.count == expected.rows.count, "\(id) on \(engine.name): \(actual.rows.count) rows, expected \(expected.rows.count)")
            #expect(actual.rows == expected.rows, "\(id) on \(engine.name): first difference \(String(describing: zip(actual.rows, expected.rows).first { $0.0 != $0.1 }))")
            if let closed = expected.closed { #expect(actual.closed == closed, "\(id): closed history rows") }
            passed = passed && first.status == 0 && actual.rows == expected.rows && (expected.closed == nil || actual.closed == expected.closed)
            await run.close()
        }
        let gap = Self.knownGap(c)
        Self.record(c, passed ? (gap == nil ? "pass" : "gap") : "fail", gap, outputs: outputs)
    }

    func expectRefused(_ c: MatrixCase, _ contract: MatrixContract.Report) async throws -> (Bool, String) {
        let run = try MatrixRun(c, clickhouse: .legacy)
        let output = try await run.run()
        #expect(output.status == 2, "\(c.id) is refused before anything runs: \(output.stdout) \(output.stderr)")
        let message = contract.diagnostic?.components(separatedBy: "error: ").last?.components(separatedBy: " at '").first ?? "?"
        let named = output.stderr.contains(message) || output.stdout.contains(message)
        #expect(named, "\(c.id): \(output.stderr)")
        await run.close()
        return (output.status == 2 && named, output.stdout + output.stderr)
    }

    /// With `DPONE_MATRIX_ARTIFACT_DIR`, writes the local layer's report over all 200 cases: what ran
    /// here (pass, gap, refused, fail) and what stays contract-only.
    @Test func writesTheLocalLayerArtifact() throws {
        guard let directory = ProcessInfo.processInfo.environment["DPONE_MATRIX_ARTIFACT_DIR"] else { return }
        let results = Self.results.withLock { $0 }
        let entries = IntegrationMatrix.cases().map { c in
            if let result = results[c.id] { return result }
            let why = c.source == "mssql" || c.sink == "mssql"
                ? "SQL Server cannot run here: contract layer only (the SQL Server sink's own live suite, MSSQLLiveTests, runs with DPONE_RUN_INTEGRATION_LIVE=1 and DPONE_CONN_MSSQL_URL)"
                : "not in the local layer yet (\(c.source.rawValue) -> \(c.sink.rawValue), \(c.strategy.rawValue))"
            return MatrixArtifact.Entry(
                id: c.id, source: c.source.rawValue, sink: c.sink.rawValue, strategy: c.strategy.rawValue,
                outcome: Self.inScope(c) ? "not run" : "contract-only", detail: Self.inScope(c) ? nil : why)
        }
        try MatrixArtifact.write(
            entries, layer: "local", slug: "local", command: "scripts/matrix.sh --layer local --artifact",
            environment: ["rows": "\(MatrixLocal.rows)", "clickhouse": "18.16 and modern (each ClickHouse case on both)", "bigquery": "bqemulator 1.4.0", "kafka": "librdkafka mock cluster"],
            directory: directory)
    }
}
