import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 4, through the whole pipeline: ClickHouse killed (-9) while `dpone batch` is loading. The run
/// exits 1 with a ClickHouse error (no hang, no crash), the state file is byte for byte what the
/// previous run committed, the target and the ledger hold only the previous checkpoint, and the
/// next run, with the server back, loads exactly the rows the failed one did not.
///
/// The failing run reads a FIFO the test holds open, so the kill lands mid-load whatever the
/// machine's speed. A PRIVATE 18.16 server (`PrivateClickHouse`) so killing it disturbs no other test. Killed, not
/// stopped: a graceful stop waits for running queries, and the load then simply finished.
@Suite(
    .tags(.integrationClickHouse), IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"))
struct ClickHouseOutagePipelineTests {
    @Test(.timeLimit(.minutes(5)))
    func serverStoppedMidRunFailsAndLeavesTargetAndStateUntouched() async throws {
        let server = try PrivateClickHouse()
        defer { server.stopQuietly() }
        try await server.run("start")
        try await server.waitForPing()
        let dir = NSTemporaryDirectory() + "dpone-choutage-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let database = "outage_pipeline"
        let manifest = "\(dir)/outage.yml"
        try """
            name: choutage
            source:
              type: files
              path: \(dir)/in.csv
              options:
                incremental_column: id
                schema:
                  - {name: id, type: int64, nullable: false}
                  - {name: payload, type: string}
            sink:
              type: clickhouse
              connection: {url: "\(server.url)"}
              table: {schema: \(database), name: target}
              strategy: {mode: incremental_append}
            state: {dir: \(dir)/state}
            """.write(toFile: manifest, atomically: true, encoding: .utf8)

        // Run 1 publishes ids 1...1000 and commits cursor 1000.
        try Self.writeSource(to: "\(dir)/in.csv", ids: 1...1000)
        let first = try await CLI.run(["batch", manifest, "--progress", "none"])
        #expect(first.status == 0, "\(first.stderr)")
        let statePath = "\(dir)/state/choutage.json"
        let committed = try #require(FileManager.default.contents(atPath: statePath), "run 1 committed no state")

        // Run 2 reads its input from a FIFO: the first 200k new rows, then the input stays open
        // (the load is in progress, its staging filled) while the server is killed; then it ends.
        let input = "\(dir)/in.csv"
        try FileManager.default.removeItem(atPath: input)
        guard mkfifo(input, 0o644) == 0 else { throw DponeError(.io, "mkfifo \(input) failed") }
        let killed = DispatchSemaphore(value: 0)
        let written = DispatchSemaphore(value: 0)
        Thread {
            let fd = open(input, O_WRONLY)  // blocks until dpone opens the FIFO
            if fd >= 0 {
                let rows = Array(Self.csv(ids: 1...201_000).utf8)
                var offset = 0
                while offset < rows.count {
                    let n = rows.withUnsafeBytes { write(fd, $0.baseAddress! + offset, rows.count - offset) }
                    if n <= 0 { break }
                    offset += n
                }
                written.signal()
                killed.wait()
                close(fd)
            } else {
                written.signal()
            }
        }.start()
        let run = try StreamProcess(["batch", manifest, "--progress", "none"], log: "\(dir)/run2.log")
        while written.wait(timeout: .now()) == .timedOut { try await Task.sleep(for: .milliseconds(20)) }
        let admin = try ClickHouseClient(url: server.url)
        let staging =
            "SELECT count() FROM system.tables WHERE database = '\(database)' AND startsWith(name, '__dpone__stg_')"
        let deadline = Date().addingTimeInterval(60)
        while run.process.isRunning, Date() < deadline, (try? await admin.queryRows(staging).first?.first) ?? "0" == "0" {
            try await Task.sleep(for: .milliseconds(20))
        }
        await admin.close()
        #expect(run.process.isRunning, "run 2 is still reading its input: \(run.output)")
        try await Task.sleep(for: .milliseconds(300))
        try await server.crash()
        killed.signal()
        let stopped = Date()
        while run.process.isRunning, Date().timeIntervalSince(stopped) < 150 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!run.process.isRunning, "run 2 still running 150 s after the server stopped")
        if run.process.isRunning { await run.killHard() }
        #expect(run.process.terminationReason == .exit && run.process.terminationStatus == 1, "exit \(run.process.terminationStatus)")
        #expect(run.output.contains("ClickHouse"), "the error names the sink: \(run.output.suffix(2000))")
        #expect(!run.output.contains(":dpone@"), "no password in the output")
        #expect(FileManager.default.contents(atPath: statePath) == committed, "the state is what run 1 committed")

        // Back up: the target and the ledger hold exactly run 1.
        try await server.run("start")
        try await server.waitForPing()
        let ch = try ClickHouseClient(url: server.url)
        do {
            let target = "`\(database)`.`target`"
            #expect(try await ch.queryRows("SELECT count(), sum(id), max(id) FROM \(target)") == [["1000", "500500", "1000"]])
            #expect(try await ch.queryRows("SELECT checkpoint FROM `\(database)`.`__dpone__loads` ORDER BY checkpoint").count == 1)

            // Run 3 (a regular file again) loads exactly the rows run 2 did not publish.
            let total = 1_501_000
            try FileManager.default.removeItem(atPath: input)
            try Self.writeSource(to: input, ids: 1...total)
            let third = try await CLI.run(["batch", manifest, "--progress", "none"])
            #expect(third.status == 0, "\(third.stderr.suffix(2000))")
            let sum = total * (total + 1) / 2
            #expect(
                try await ch.queryRows("SELECT count(), uniqExact(id), sum(id) FROM \(target)")
                    == [[String(total), String(total), String(sum)]])
        } catch {
            await ch.close()
            throw error
        }
        await ch.close()
    }

    /// `id,payload` rows with a header.
    static func csv(ids: ClosedRange<Int>) -> String {
        var text = "id,payload\n"
        for id in ids { text += "\(id),payload-\(id)-abcdefghijklmnopqrstuvwxyz\n" }
        return text
    }

    /// The same rows in a regular file, written in chunks (tens of MB).
    static func writeSource(to path: String, ids: ClosedRange<Int>) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.write(contentsOf: Data("id,payload\n".utf8))
        var chunk = ""
        for id in ids {
            chunk += "\(id),payload-\(id)-abcdefghijklmnopqrstuvwxyz\n"
            if chunk.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
        try handle.write(contentsOf: Data(chunk.utf8))
    }
}
