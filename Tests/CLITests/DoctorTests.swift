import DponeTestSupport
import Flow
import Foundation
import Testing

/// `dpone doctor` really connects: green with the local services up; with one of them unreachable,
/// that check fails, named, with how to start it, and the exit code is 1.
@Suite(
    .tags(.integrationPostgres, .integrationClickHouse, .integrationKafka), IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"))
struct DoctorTests {
    /// The services' addresses as scripts/test.sh exported them (CLI.run drops DPONE_* otherwise).
    var services: [String: String] {
        var env: [String: String] = [:]
        for key in ["ODBCSYSINI", "DPONE_TEST_POSTGRES_URL", "DPONE_TEST_CLICKHOUSE_URL", "DPONE_TEST_CLICKHOUSE_MODERN_URL", "DPONE_TEST_KAFKA_CONTROL", "DPONE_TEST_SCHEMA_REGISTRY_URL", "DPONE_TEST_BIGQUERY_HOST"] {
            if let value = ProcessInfo.processInfo.environment[key], !value.isEmpty { env[key] = value }
        }
        return env
    }

    /// A loopback port nothing listens on.
    func closedPort() throws -> Int { try PrivateClickHouse.freePort() }

    @Test func localProfileIsGreenWithTheServicesUp() async throws {
        try PostgresTestServer.require()
        let run = try await CLI.run(["doctor", "--profile", "local"], environment: services)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("ok   PostgreSQL (local): PostgreSQL 15"), "\(run.stdout)")
        #expect(run.stdout.contains("ok   PostgreSQL (local): wal_level: logical"), "\(run.stdout)")
        #expect(run.stdout.contains("ClickHouse 18.16 (local): ClickHouse 18.16"), "\(run.stdout)")
        #expect(run.stdout.contains("ok   Kafka mock cluster (local)"), "\(run.stdout)")
        #expect(run.stdout.contains("ok   schema registry (local)"), "\(run.stdout)")
        #expect(run.stdout.contains("ok   BigQuery emulator (local)"), "\(run.stdout)")
        #expect(run.stdout.contains("every required check passed"))
        #expect(run.stdout.contains("ODBC drivers: "), "\(run.stdout)")
        #expect(!run.stdout.contains("dpone:dpone@"), "passwords are masked: \(run.stdout)")
        // The servers' clocks against this machine's. It is the same clock here, so the measured skew
        // lies within the stated uncertainty (half the query's round trip), however loaded the machine.
        let clock = try #require(
            run.stdout.split(separator: "\n").first { $0.hasPrefix("ok   PostgreSQL (local): clock: ") }, "\(run.stdout)")
        let numbers = clock.split(whereSeparator: { " ()±s".contains($0) }).compactMap { Double($0) }
        #expect(numbers.count == 2 && abs(numbers[0]) <= numbers[1] + 0.001, "skew within its uncertainty: \(clock)")
        #expect(run.stdout.contains("ok   ClickHouse 18.16 (local): clock: "), "\(run.stdout)")
        #expect(run.stdout.contains("ok   allocator mmap threshold: 256 KiB, dpone's setting"), "\(run.stdout)")
    }

    /// A threshold from the environment large enough for batches to stay resident is a warning
    /// with its fix, not a failure.
    @Test func aLargeMmapThresholdFromTheEnvironmentWarns() async throws {
        try PostgresTestServer.require()
        var env = services
        env["MALLOC_MMAP_THRESHOLD_"] = String(64 << 20)
        let run = try await CLI.run(["doctor", "--profile", "local"], environment: env)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("warn allocator mmap threshold: 67108864 bytes from MALLOC_MMAP_THRESHOLD_"), "\(run.stdout)")
        #expect(run.stdout.contains("fix: unset MALLOC_MMAP_THRESHOLD_ (dpone sets 256 KiB)"), "\(run.stdout)")
    }

    /// With a manifest: the Kafka source's consumer group has a coordinator that answers, and the
    /// state store's run lock is taken and released; while a run holds it, that is a warning.
    @Test func theConsumerGroupAndTheStateLockAreChecked() async throws {
        let bootstrap = try KafkaTestServer.url
        let topic = try KafkaTestServer.createTopic("doctor", partitions: 2)
        let dir = NSTemporaryDirectory() + "dpone-doctor-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            name: grp
            source: {type: kafka, connection: {url: "\(bootstrap)"}, topic: \(topic), options: {offset_storage: kafka, group_id: doctor-group, schema: [{name: id, type: int64}]}}
            sink: {type: files, path: \(dir)/out.csv}
            state: {dir: \(dir)/state}
            """.write(toFile: "\(dir)/p.yml", atomically: true, encoding: .utf8)
        let run = try await CLI.run(["doctor", "--profile", "production", "\(dir)/p.yml"])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("ok   grp: kafka source: group doctor-group: the coordinator answers; 0 of 2 partition(s) have committed offsets"), "\(run.stdout)")
        #expect(run.stdout.contains("ok   grp: state lock: taken and released (file store)"), "\(run.stdout)")
        // A run of the pipeline holds the lock now (this process takes it as the run would).
        let held = try PipelineLock(directory: "\(dir)/state", pipeline: "grp")
        let busy = try await CLI.run(["doctor", "--profile", "production", "\(dir)/p.yml"])
        #expect(busy.status == 0, "\(busy.stdout) \(busy.stderr)")
        #expect(busy.stdout.contains("warn grp: state lock: pipeline 'grp' is already running (pid \(getpid())"), "\(busy.stdout)")
        withExtendedLifetime(held) {}
    }

    @Test(arguments: [
        ("DPONE_TEST_POSTGRES_URL", "postgresql://dpone:dpone@127.0.0.1:PORT/dpone", "PostgreSQL (local)", "scripts/postgres.sh start"),
        ("DPONE_TEST_CLICKHOUSE_URL", "http://dpone:dpone@127.0.0.1:PORT/", "ClickHouse 18.16 (local)", "scripts/clickhouse.sh start"),
        ("DPONE_TEST_CLICKHOUSE_MODERN_URL", "http://127.0.0.1:PORT/", "ClickHouse modern (local)", "scripts/clickhouse-modern.sh start"),
        ("DPONE_TEST_KAFKA_CONTROL", "127.0.0.1:PORT", "Kafka mock cluster (local)", "scripts/kafka.sh start"),
        ("DPONE_TEST_SCHEMA_REGISTRY_URL", "http://127.0.0.1:PORT", "schema registry (local)", "scripts/schema-registry.sh start"),
        ("DPONE_TEST_BIGQUERY_HOST", "127.0.0.1:PORT", "BigQuery emulator (local)", "scripts/bigquery.sh start"),
    ])
    func aServiceDownFailsNamedWithItsFix(variable: String, template: String, name: String, fix: String) async throws {
        try PostgresTestServer.require()
        var env = services
        env[variable] = template.replacingOccurrences(of: "PORT", with: String(try closedPort()))
        let run = try await CLI.run(["doctor", "--profile", "local"], environment: env)
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("FAIL \(name)"), "\(run.stdout)")
        #expect(run.stdout.contains("fix: start it: \(fix)") || run.stdout.contains(fix), "\(run.stdout)")
        #expect(run.stdout.contains("1 check(s) failed"), "only that service fails: \(run.stdout)")
    }

    @Test func manifestsAreCheckedAndJSONIsForTooling() async throws {
        try PostgresTestServer.require()
        let dir = NSTemporaryDirectory() + "dpone-doctor-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
            name: doc
            source: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: public, name: t}}
            sink: {type: clickhouse, connection: {url: "\(ClickHouseTestServer.legacy.url)"}, table: {schema: d, name: t}, strategy: {mode: full_refresh}}
            state: {dir: \(dir)/state}
            """.write(toFile: "\(dir)/p.yml", atomically: true, encoding: .utf8)
        let run = try await CLI.run(["doctor", "--profile", "production", "--format", "json", "\(dir)/p.yml"])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(report["passed"] as? Bool == true)
        let names = (report["checks"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(names.contains("doc: postgres source"), "\(names)")
        #expect(names.contains("doc: clickhouse sink"), "\(names)")
        #expect(names.contains("doc: state store"), "\(names)")
        #expect(!names.contains { $0.hasSuffix("(local)") }, "production checks only the manifests")
    }

    @Test func anODBCEndpointIsConnectedThroughItsDriver() async throws {
        let dir = NSTemporaryDirectory() + "dpone-doctor-odbc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func manifest(_ driver: String) throws -> String {
            let path = "\(dir)/\(driver.filter(\.isLetter)).yml"
            try """
                name: odbcdoc
                source: {type: odbc, connection: {odbc: "Driver={\(driver)};Database=\(dir)/x.db;"}, options: {query: "SELECT 1 AS x"}}
                sink: {type: files, path: \(dir)/out.csv, strategy: {mode: full_refresh}}
                state: {dir: \(dir)/state}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let good = try await CLI.run(["doctor", "--profile", "production", try manifest("SQLite3")])
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")
        #expect(good.stdout.contains("ok   odbcdoc: odbc source: SQLite"), "\(good.stdout)")
        let bad = try await CLI.run(["doctor", "--profile", "production", try manifest("No Such Driver")])
        #expect(bad.status == 1, "\(bad.stdout)")
        #expect(bad.stdout.contains("FAIL odbcdoc: odbc source"), "\(bad.stdout)")
        #expect(bad.stdout.contains("odbcinst -q -d"), "the fix names how to list drivers: \(bad.stdout)")
    }
}
