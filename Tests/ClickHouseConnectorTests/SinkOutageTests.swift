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
        try await server.run("start")
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
        try await server.run("stop")

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
        try await server.run("start")
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
