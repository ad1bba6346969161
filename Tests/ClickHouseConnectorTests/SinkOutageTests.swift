import DponeTestSupport
import Flow
import Foundation
import Testing

@testable import ClickHouseConnector

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Issue 4: ClickHouse stopped mid-load. The run fails cleanly with a `DponeError` (no crash, no
/// hang), the target and the ledger keep the previous checkpoint exactly, and the next open drops
/// the attempt tables the failed load left.
///
/// Runs a PRIVATE 18.16 server (its own services folder and ports, through `scripts/clickhouse.sh`)
/// so stopping it never disturbs the shared test servers.
@Suite("ClickHouse sink: server stopped mid-load", .tags(.integrationClickHouse), IntegrationGate.integration.trait)
struct SinkOutageTests {
    @Test(.timeLimit(.minutes(5)))
    func stoppingTheServerMidLoadFailsCleanlyAndLeavesTheTargetUntouched() async throws {
        let server = try PrivateClickHouse()
        defer { server.stopQuietly() }
        try server.run("start")
        try await server.waitForPing()

        let database = "outage"
        let target = ClickHouseTableName(database: database, name: "target")
        func sink(_ loadID: String) -> ClickHouseSink {
            ClickHouseSink(
                name: "ch",
                options: ClickHouseSinkOptions(
                    url: server.url, target: target, mode: .incrementalAppend(onlyNewRows: false), loadID: loadID,
                    mutationTimeoutSeconds: 60))
        }
        let schema = SinkFixture.schema
        let firstRows: [(Int64, String?, Int?)] = (1...5).map { (Int64($0), "first-\($0)", $0 * 100) }

        // Checkpoint 1 is published.
        let first = sink("l1")
        try await first.open(schema: schema)
        try await first.write(SinkFixture.batch(firstRows))
        let commit = try await first.finalize(SinkFixture.context(1))
        await first.close()
        #expect(commit.inserted == 5)

        // Checkpoint 2 stages some batches, then the server stops before the barrier.
        let second = sink("l2")
        try await second.open(schema: schema)
        for b in 0..<3 {
            let rows: [(Int64, String?, Int?)] = (0..<1000).map { i in (Int64(1000 + b * 1000 + i), "second", i) }
            try await second.write(SinkFixture.batch(rows))
        }
        try server.run("stop")

        let started = Date()
        var failure: DponeError?
        do {
            // More batches after the stop, then the barrier: one of them must fail.
            for b in 3..<6 {
                let rows: [(Int64, String?, Int?)] = (0..<1000).map { i in (Int64(1000 + b * 1000 + i), "second", i) }
                try await second.write(SinkFixture.batch(rows))
            }
            _ = try await second.finalize(SinkFixture.context(2))
            Issue.record("checkpoint 2 was published although the server was stopped")
        } catch let error as DponeError {
            failure = error
        } catch {
            Issue.record("expected a DponeError, got \(type(of: error)): \(error)")
        }
        await second.abort()
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 120, "failing took \(Int(elapsed)) s")
        let error = try #require(failure)
        #expect(error.kind == .sink, "\(error)")
        #expect(error.message.contains("ClickHouse"), "\(error)")

        // Back up: the target holds exactly checkpoint 1, the ledger only checkpoint 1.
        try server.run("start")
        try await server.waitForPing()
        let admin = try ClickHouseClient(url: server.url)
        do {
            let rows = try await admin.queryRows("SELECT id, name, toString(toUInt64(amount * 100)) FROM \(target.sql) ORDER BY id")
            #expect(rows == firstRows.map { [String($0.0), $0.1!, String($0.2!)] }, "\(rows)")
            let ledger = try await admin.queryRows("SELECT checkpoint FROM \(database).__dpone__loads ORDER BY checkpoint")
            #expect(ledger == [["1"]])
            let tagged = try await admin.queryRows("SELECT count() FROM \(target.sql) WHERE __dpone__checkpoint = 2")
            #expect(tagged == [["0"]])

            // The failed attempt's staging may remain; the next open drops it.
            let attemptTables =
                "SELECT name FROM system.tables WHERE database = '\(database)' AND startsWith(name, '__dpone__') AND name != '__dpone__loads' ORDER BY name"
            let leftover = try await admin.queryRows(attemptTables).compactMap(\.first)
            #expect(leftover.allSatisfy { $0.hasPrefix("__dpone__stg_l2_") }, "\(leftover)")
            let third = sink("l3")
            try await third.open(schema: schema)
            #expect(try await admin.queryRows(attemptTables).isEmpty)
            // And the load works again: checkpoint 2 replays and publishes.
            try await third.write(SinkFixture.batch([(6, "again", 600)]))
            let replay = try await third.finalize(SinkFixture.context(2))
            await third.close()
            #expect(replay.inserted == 1)
            #expect(try await admin.queryRows("SELECT count() FROM \(target.sql)") == [["6"]])
            #expect(try await admin.queryRows(attemptTables).isEmpty)
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
    }
}

/// A ClickHouse 18.16 of its own: `scripts/clickhouse.sh` with a temporary services folder and free
/// ports. `stopQuietly` (in a defer) stops it and removes the folder.
final class PrivateClickHouse: Sendable {
    let servicesDir: URL
    let httpPort: Int
    let tcpPort: Int
    let script: URL

    init() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        script = root.appendingPathComponent("scripts/clickhouse.sh")
        guard FileManager.default.isExecutableFile(atPath: script.path) else {
            throw DponeError(.internal, "scripts/clickhouse.sh not found at \(script.path)")
        }
        servicesDir = FileManager.default.temporaryDirectory.appendingPathComponent("dpone-ch-outage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: servicesDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        httpPort = try Self.freePort()
        var tcp = try Self.freePort()
        while tcp == httpPort { tcp = try Self.freePort() }
        tcpPort = tcp
    }

    var url: String { "http://dpone:dpone@127.0.0.1:\(httpPort)/" }

    /// Runs `scripts/clickhouse.sh <command>` on this server's folder and ports; throws on a non-zero exit.
    func run(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path, command]
        var environment = ProcessInfo.processInfo.environment
        environment["DPONE_SERVICES_DIR"] = servicesDir.path
        environment["DPONE_CH_PORT"] = String(httpPort)
        environment["DPONE_CH_TCP_PORT"] = String(tcpPort)
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DponeError(
                .internal,
                "scripts/clickhouse.sh \(command) exited \(process.terminationStatus): \(String(decoding: data, as: UTF8.self))")
        }
    }

    /// Waits until a query answers (the script already waits for /ping; this also covers the user
    /// and system tables being ready).
    func waitForPing(timeout: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            do {
                let client = try ClickHouseClient(url: url)
                let version = try? await client.queryRows("SELECT version()")
                await client.close()
                if version?.first?.first?.isEmpty == false { return }
            }
            guard Date() < deadline else { throw DponeError(.internal, "private ClickHouse on port \(httpPort) did not answer in \(Int(timeout)) s") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    func stopQuietly() {
        try? run("stop")
        try? FileManager.default.removeItem(at: servicesDir)
    }

    /// A TCP port the kernel reports free on 127.0.0.1 (bind to 0, read it back, close).
    static func freePort() throws -> Int {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw DponeError(.internal, "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw DponeError(.internal, "bind() to a free port failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
