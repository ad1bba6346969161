import DponeTestSupport
import Foundation
import Manifest
import ClickHouseConnector
import Pipeline
import PostgresConnector
import Testing

/// Interoperability with Confluent's own clients: confluent-kafka-python's serializers (Avro,
/// Protobuf, JSON Schema) against the local registry fake and the Kafka mock cluster.
///
/// - Python → dpone: `scripts/fakes/confluent_interop.py produce` writes deterministic records; a
///   dpone pipeline reads them (kafka source, registry format) into JSONL; every row must equal its
///   record.
/// - dpone → Python: a dpone pipeline writes CSV rows to a topic (kafka sink, registry format);
///   `confluent_interop.py consume` decodes them with Confluent's deserializers; every value must
///   equal its input.
///
/// Needs `DPONE_INTEROP_PYTHON` (the python of `scripts/interop-venv.sh`); with the gate open, a
/// missing python or service fails the test.
@Suite(.tags(.integrationKafka, .integrationMatrixMock), IntegrationGate.integration.trait, .serialized)
struct KafkaInteropTests {
    static let formats = ["avro", "protobuf", "json_schema"]
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-interop-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    // MARK: Python → dpone

    @Test(arguments: formats)
    func confluentSerializersAreDecodedByDpone(format: String) async throws {
        try requireServices()
        let topic = try KafkaTestServer.createTopic("interop_in_\(format)", partitions: 3)
        let count = 20
        let produced = try await Interop.run([
            "produce", "--bootstrap", try KafkaTestServer.bootstrap, "--registry", SchemaRegistryTestServer.url,
            "--topic", topic, "--format", format, "--count", String(count),
        ])
        #expect(produced.contains("\"produced\": \(count)"), "\(produced)")

        let doc = try ManifestLoader.parse(
            yaml: """
                name: confluent2dpone
                source:
                  type: kafka
                  connection: {url: "\(try KafkaTestServer.url)"}
                  topic: \(topic)
                  options: {format: \(format), schema_registry: {url: "\(SchemaRegistryTestServer.url)"}, start: earliest}
                sink: {type: files, path: \(dir)/out.jsonl, strategy: {mode: full_refresh}, options: {format: jsonl}}
                state: {type: disabled}
                """, path: "\(dir)/in.yml", environment: [:])
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        try #require(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.extractedRows == count)

        let rows = try jsonLines("\(dir)/out.jsonl")
        #expect(rows.count == count)
        var seen = Set<Int>()
        for row in rows {
            let id = try #require((row["id"] as? NSNumber)?.intValue, "id in \(row)")
            seen.insert(id)
            let expected = Interop.pythonRecord(id)
            #expect(row["name"] as? String == expected.name, "name of \(id)")
            #expect(row["amount"] as? String == expected.amount, "amount of \(id)")
            let created = try #require(row["created_at"] as? String, "created_at in \(row)")
            #expect(try Instant(created) == expected.createdAt, "created_at of \(id): \(created)")
        }
        #expect(seen == Set(1...count), "every record once")
    }

    // MARK: dpone → Python

    /// Input rows: unicode, a comma, a negative and a zero amount, microsecond instants.
    static let input: [(id: Int, name: String, amount: String, createdAt: String)] = (1...12).map { i in
        let name = i == 3 ? "Zoë, \"3\" ☃" : "row-\(i)"
        let amount = i == 5 ? "-12.05" : i == 6 ? "0.00" : "\(i * 7).\(String(format: "%02d", i * 3 % 100))"
        let second = String(format: "%02d", i)
        return (i, name, amount, "2024-03-04T05:06:\(second).65432\(i % 10)Z")
    }

    @Test(arguments: formats)
    func dponeIsDecodedByConfluentDeserializers(format: String) async throws {
        try requireServices()
        let topic = try KafkaTestServer.createTopic("interop_out_\(format)", partitions: 3)
        var csv = "id,name,amount,created_at\n"
        for r in Self.input {
            csv += "\(r.id),\"\(r.name.replacingOccurrences(of: "\"", with: "\"\""))\",\(r.amount),\(r.createdAt)\n"
        }
        try csv.write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        let doc = try ManifestLoader.parse(
            yaml: """
                name: dpone2confluent
                source:
                  type: files
                  path: \(dir)/in.csv
                  options:
                    format: csv
                    schema:
                      - {name: id, type: int64, nullable: false}
                      - {name: name, type: string}
                      - {name: amount, type: "decimal(10,2)"}
                      - {name: created_at, type: timestamptz}
                sink:
                  type: kafka
                  connection: {url: "\(try KafkaTestServer.url)"}
                  topic: \(topic)
                  strategy: {mode: incremental_append}
                  options: {format: \(format), schema_registry: {url: "\(SchemaRegistryTestServer.url)"}}
                state: {type: disabled}
                """, path: "\(dir)/out.yml", environment: [:])
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        try #require(result.status == .succeeded, "\(result.error ?? "")")

        let output = try await Interop.run([
            "consume", "--bootstrap", try KafkaTestServer.bootstrap, "--registry", SchemaRegistryTestServer.url,
            "--topic", topic, "--format", format, "--count", String(Self.input.count), "--timeout", "60",
        ])
        let decoded = try output.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)")
        }
        #expect(decoded.count == Self.input.count)
        var seen = Set<Int>()
        for row in decoded {
            let id = try #require((row["id"] as? NSNumber)?.intValue, "id in \(row)")
            seen.insert(id)
            let expected = try #require(Self.input.first { $0.id == id }, "unexpected id \(id)")
            #expect(row["name"] as? String == expected.name, "name of \(id): \(row)")
            #expect(Interop.decimal(row["amount"]) == Decimal(string: expected.amount), "amount of \(id): \(row)")
            let created = try #require(row["created_at"] as? String, "created_at in \(row)")
            #expect(try Instant(created) == Instant(expected.createdAt), "created_at of \(id): \(created)")
        }
        #expect(seen == Set(Self.input.map(\.id)), "every row once")
    }

    // MARK: helpers

    func requireServices() throws {
        try KafkaTestServer.require()
        try SchemaRegistryTestServer.require()
        _ = try Interop.python
    }

    /// Every line of a JSONL file (a full_refresh files sink writes its path as one file), as JSON objects.
    func jsonLines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)")
        }
    }
}

/// Runs `scripts/fakes/confluent_interop.py` with the interop venv's python.
enum Interop {
    static var python: String {
        get throws {
            let path = ProcessInfo.processInfo.environment["DPONE_INTEROP_PYTHON"] ?? ""
            guard !path.isEmpty, FileManager.default.isExecutableFile(atPath: path) else {
                let shown = path.isEmpty ? "unset" : path
                throw KafkaTestError(
                    "DPONE_INTEROP_PYTHON (\(shown)) is not an executable python: set it to the last line of scripts/interop-venv.sh")
            }
            return path
        }
    }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/fakes/confluent_interop.py").path
    }

    /// Runs the script with `arguments` (off the cooperative pool) and returns its stdout; throws
    /// with its stderr when it fails.
    static func run(_ arguments: [String]) async throws -> String {
        let output = try await OffPoolProcess.run(try python, [script] + arguments)
        guard output.status == 0 else {
            throw KafkaTestError(
                "confluent_interop.py \(arguments.first ?? "") exited \(output.status): \(output.stderr.suffix(2000))"
                    + "\nstdout: \(output.stdout.suffix(1000))")
        }
        return output.stdout
    }

    /// Record `i` as confluent_interop.py produces it.
    static func pythonRecord(_ i: Int) -> (name: String, amount: String, createdAt: Instant) {
        let base = Instant(epochMicros: 1_704_164_645_123_456)  // 2024-01-02T03:04:05.123456Z
        return ("name-\(i)", String(format: "%.2f", Double(i) * 1.25), Instant(epochMicros: base.epochMicros + Int64(i) * 1_000_000))
    }

    /// A decimal from a JSON number or string.
    static func decimal(_ value: Any?) -> Decimal? {
        if let s = value as? String { return Decimal(string: s) }
        if let n = value as? NSNumber { return Decimal(string: n.stringValue) }
        return nil
    }
}

/// An instant with microsecond precision from RFC 3339 text (`2024-01-02T03:04:05.123456Z`, a
/// space instead of `T`, `+hh:mm` offsets, 0 to 9 fraction digits; beyond microseconds truncated).
struct Instant: Equatable, CustomStringConvertible {
    let epochMicros: Int64

    init(epochMicros: Int64) { self.epochMicros = epochMicros }

    init(_ text: String) throws {
        let pattern = #/^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/#
        guard let m = text.wholeMatch(of: pattern) else { throw KafkaTestError("not an RFC 3339 instant: \(text)") }
        let (y, mo, d) = (Int64(m.1)!, Int64(m.2)!, Int64(m.3)!)
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        var seconds = days * 86_400 + Int64(m.4)! * 3600 + Int64(m.5)! * 60 + Int64(m.6)!
        if m.8 != "Z" {
            let digits = m.8.filter(\.isNumber)
            let offset = Int64(digits.prefix(2))! * 3600 + Int64(digits.suffix(2))! * 60
            seconds -= m.8.hasPrefix("-") ? -offset : offset
        }
        let fraction = String((m.7.map(String.init) ?? "") + "000000").prefix(6)
        epochMicros = seconds * 1_000_000 + Int64(fraction)!
    }

    var description: String { "\(epochMicros)µs" }
}

extension KafkaInteropTests {
    /// Kafka -> Postgres in each registry codec: Confluent-produced records merged into a table by
    /// key, twice (the second run reads only the new records and updates nothing twice).
    @Test(arguments: formats)
    func registryCodecsToPostgres(format: String) async throws {
        try requireServices()
        try PostgresTestServer.require()
        let topic = try KafkaTestServer.createTopic("interop_pg_\(format)", partitions: 3)
        let schema = PostgresTestServer.uniqueSchemaName("k2pg_\(format)")
        func produce(_ start: Int, _ count: Int) async throws {
            let out = try await Interop.run([
                "produce", "--bootstrap", try KafkaTestServer.bootstrap, "--registry", SchemaRegistryTestServer.url,
                "--topic", topic, "--format", format, "--count", String(count), "--start-id", String(start),
            ])
            #expect(out.contains("\"produced\": \(count)"), "\(out)")
        }
        let doc = try ManifestLoader.parse(
            yaml: """
                name: k2pg-\(format)
                source:
                  type: kafka
                  connection: {url: "\(try KafkaTestServer.url)"}
                  topic: \(topic)
                  options: {format: \(format), schema_registry: {url: "\(SchemaRegistryTestServer.url)"}, start: earliest}
                sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: records}, strategy: {mode: incremental_merge, unique_key: id}}
                state: {dir: \(dir)/state-pg-\(format)}
                """, path: "\(dir)/pg.yml", environment: [:])
        try await produce(1, 15)
        let first = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(first.status == .succeeded && first.insertedRows == 15, "\(first.error ?? "")")
        try await produce(16, 5)
        let second = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(second.status == .succeeded && second.extractedRows == 5 && second.insertedRows == 5, "\(second.error ?? "")")
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let rows = try await pg.query(
            "SELECT id::text, name, amount::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM \(PostgresSQL.quoteIdentifier(schema)).records ORDER BY id")
        try await pg.execute("DROP SCHEMA \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
        await pg.close()
        #expect(rows.count == 20)
        for row in rows {
            let id = Int(row[0] ?? "") ?? -1
            let expected = Interop.pythonRecord(id)
            #expect(row[1] == expected.name && row[2] == expected.amount, "\(format) row \(id): \(row)")
            #expect(try Instant(row[3] ?? "") == expected.createdAt, "\(format) created_at of \(id): \(row[3] ?? "")")
        }
    }
}

extension KafkaInteropTests {
    /// Subject name strategies: Confluent records registered under `<record>` (RecordNameStrategy)
    /// are read with `subject_strategy: record_name`; dpone registers under `<topic>-<record>`
    /// with `topic_record_name`.
    @Test func recordSubjectStrategies() async throws {
        try requireServices()
        let topic = try KafkaTestServer.createTopic("interop_subjects", partitions: 1)
        let out = try await Interop.run([
            "produce", "--bootstrap", try KafkaTestServer.bootstrap, "--registry", SchemaRegistryTestServer.url,
            "--topic", topic, "--format", "avro", "--count", "4", "--subject-strategy", "record_name",
        ])
        #expect(out.contains("\"subject\": \"dpone.interop.Record\""), "\(out)")
        let mirror = try KafkaTestServer.createTopic("interop_subjects_out", partitions: 1)
        let doc = try ManifestLoader.parse(
            yaml: """
                name: subjects
                source:
                  type: kafka
                  connection: {url: "\(try KafkaTestServer.url)"}
                  topic: \(topic)
                  options: {format: avro, start: earliest, schema_registry: {url: "\(SchemaRegistryTestServer.url)", subject_strategy: record_name, record_name: dpone.interop.Record}}
                sink:
                  type: kafka
                  connection: {url: "\(try KafkaTestServer.url)"}
                  topic: \(mirror)
                  strategy: {mode: incremental_append}
                  options: {format: avro, schema_registry: {url: "\(SchemaRegistryTestServer.url)", subject_strategy: topic_record_name, record_name: acme.sales.Order}}
                state: {type: disabled}
                """, path: "\(dir)/subjects.yml", environment: [:])
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(result.status == .succeeded && result.extractedRows == 4, "\(result.error ?? "")")
        let subjects = try await Interop.httpGet(SchemaRegistryTestServer.url + "/subjects")
        #expect(subjects.contains("\"\(mirror)-acme.sales.Order\""), "\(subjects)")
        let copied = try await KafkaTestServer.consumeAllOffPool(mirror, partitions: 1)
        #expect(copied.count == 4)
    }
}

extension Interop {
    /// GET `url` with curl (the registry fake's REST answers, for assertions).
    static func httpGet(_ url: String) async throws -> String {
        try await OffPoolProcess.run("/usr/bin/curl", ["-sS", "--max-time", "10", url]).stdout
    }
}

extension KafkaInteropTests {
    /// Kafka -> ClickHouse (both servers) in each registry codec: Confluent-produced records appended.
    @Test(arguments: formats)
    func registryCodecsToClickHouse(format: String) async throws {
        try requireServices()
        let topic = try KafkaTestServer.createTopic("interop_ch_\(format)", partitions: 2)
        let out = try await Interop.run([
            "produce", "--bootstrap", try KafkaTestServer.bootstrap, "--registry", SchemaRegistryTestServer.url,
            "--topic", topic, "--format", format, "--count", "10",
        ])
        #expect(out.contains("\"produced\": 10"), "\(out)")
        for server in ClickHouseTestServer.all {
            try server.require()
            let database = ClickHouseTestServer.uniqueDatabaseName("k2ch_\(format)")
            let doc = try ManifestLoader.parse(
                yaml: """
                    name: k2ch-\(format)
                    source:
                      type: kafka
                      connection: {url: "\(try KafkaTestServer.url)"}
                      topic: \(topic)
                      options: {format: \(format), schema_registry: {url: "\(SchemaRegistryTestServer.url)"}, start: earliest}
                    sink: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: \(database), name: records}, strategy: {mode: incremental_merge, unique_key: id, merge_policy: mutation_delete_insert}}
                    state: {type: disabled}
                    """, path: "\(dir)/ch.yml", environment: [:])
            let result = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(result.status == .succeeded && result.insertedRows == 10, "\(format) on \(server.name): \(result.error ?? "")")
            let ch = try ClickHouseClient(url: server.url)
            let rows = try await ch.queryRows(
                "SELECT toString(id), name, toString(amount) FROM \(ClickHouseSQL.quoteIdentifier(database)).`records` ORDER BY id")
            try? await ch.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(database))")
            await ch.close()
            #expect(rows.count == 10, "\(format) on \(server.name)")
            for row in rows {
                let expected = Interop.pythonRecord(Int(row[0]) ?? -1)
                #expect(row[1] == expected.name && row[2] == expected.amount, "\(format) on \(server.name): \(row)")
            }
        }
    }
}

extension KafkaInteropTests {
    /// Tombstones from confluent-kafka's own producer: keys written by its String, Avro, JSON Schema
    /// and Protobuf serializers, Avro values whose fields are all non-nullable, read with
    /// `tombstones: delete` into a Postgres incremental_merge: the tombstoned keys are deleted and
    /// every other row is exact. (A string key used to fail as "invalid JSON", and a delete row built
    /// against the value schema failed on "NULL in non-nullable column".)
    @Test(arguments: [("string", "string"), ("avro", "avro"), ("json_schema", "json_schema"), ("protobuf", "protobuf")])
    func confluentTombstonesDeleteByKey(producerKeys: String, keyFormat: String) async throws {
        try requireServices()
        try PostgresTestServer.require()
        let topic = try KafkaTestServer.createTopic("interop_tomb_\(producerKeys)", partitions: 3)
        let produced = try await Interop.run([
            "produce", "--bootstrap", try KafkaTestServer.bootstrap, "--registry", SchemaRegistryTestServer.url,
            "--topic", topic, "--format", "avro", "--count", "20", "--key-format", producerKeys, "--tombstones", "3,7,20",
        ])
        #expect(produced.contains("\"tombstones\": 3"), "\(produced)")
        let schema = PostgresTestServer.uniqueSchemaName("tomb")
        let doc = try ManifestLoader.parse(
            yaml: """
                name: tombstones
                source:
                  type: kafka
                  connection: {url: "\(try KafkaTestServer.url)"}
                  topic: \(topic)
                  options: {format: avro, key_format: \(keyFormat), tombstones: delete, schema_registry: {url: "\(SchemaRegistryTestServer.url)"}, start: earliest}
                sink:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: target}
                  strategy: {mode: incremental_merge, unique_key: id}
                state: {dir: \(dir)/state-\(producerKeys)}
                """, path: "\(dir)/tomb.yml", environment: [:])
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let ids = try await pg.query("SELECT t.id::text, t.name FROM \(PostgresSQL.quoteIdentifier(schema)).target AS t ORDER BY t.id")
        try await pg.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
        await pg.close()
        let expected = (1...20).filter { ![3, 7, 20].contains($0) }.map { [String($0), "name-\($0)"] as [String?] }
        #expect(ids == expected, "keys 3, 7 and 20 deleted, every other row exact")
    }
}
