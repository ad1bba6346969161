import DponeTestSupport
import Foundation
import Synchronization
import Testing

/// Flat memory, end to end: a files -> files run over a CSV several times larger than all channel
/// bounds together stays under the 150 MB bound of the 2 GB acceptance run
/// (`scripts/bigfile-check.sh` runs the full 2 GB). Uses the release binary (`DPONE_RELEASE_BIN`,
/// built by scripts/test.sh): a debug build is too slow for this size.
@Suite(
    .tags(.integrationFiles),
    .enabled(
        if: ProcessInfo.processInfo.environment["DPONE_RELEASE_BIN"].map { FileManager.default.isExecutableFile(atPath: $0) } ?? false,
        "set DPONE_RELEASE_BIN to a release build of dpone (scripts/test.sh does)"))
struct MemoryBoundTests {
    static let limitBytes = 150 * 1024 * 1024

    @Test func aLargeCSVRunsInBoundedMemory() async throws {
        let dir = NSTemporaryDirectory() + "dpone-memory-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // ~200 MB, ~2.2M rows.
        let awk = Process()
        awk.executableURL = URL(fileURLWithPath: "/usr/bin/awk")
        awk.arguments = [
            """
            BEGIN { print "id,customer,amount,created_at,active,note"
              for (i = 1; i <= 2200000; i++)
                printf "%d,customer-%07d,%d.%02d,2026-%02d-%02dT%02d:%02d:%02d.%06dZ,%s,\\"note %d, with comma\\"\\n", i, i % 1000003, i % 100000, i % 100, i % 12 + 1, i % 28 + 1, i % 24, i % 60, i % 60, i % 1000000, (i % 2 ? "true" : "false"), i }
            """
        ]
        _ = FileManager.default.createFile(atPath: "\(dir)/big.csv", contents: nil)
        awk.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/big.csv"))
        try awk.run()
        // Waiting by polling: a blocked cooperative thread would starve the parallel suite.
        while awk.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(awk.terminationStatus == 0)
        let size = try FileManager.default.attributesOfItem(atPath: "\(dir)/big.csv")[.size] as? Int ?? 0
        #expect(size > 190_000_000)

        try """
            name: memory
            source:
              type: files
              path: big.csv
              options:
                schema:
                  - {name: id, type: int64, nullable: false}
                  - {name: customer, type: string}
                  - {name: amount, type: "decimal(12,2)"}
                  - {name: created_at, type: timestamptz}
                  - {name: active, type: bool}
                  - {name: note, type: string}
            sink: {type: files, path: out.csv, strategy: {mode: full_refresh}, options: {row_hash: true, lineage: true}}
            state: {dir: state}
            """.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)

        let release = ProcessInfo.processInfo.environment["DPONE_RELEASE_BIN"]!
        let process = Process()
        process.executableURL = URL(fileURLWithPath: release)
        process.arguments = ["batch", "pipeline.yml", "--format", "json", "--progress", "none"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        _ = FileManager.default.createFile(atPath: "\(dir)/result.json", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/result.json"))
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/result.json"))
        #expect(process.terminationStatus == 0)
        let result = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(result["extracted_rows"] as? Int == 2_200_000)
        #expect(result["loaded_rows"] as? Int == 2_200_000)
        let peak = try #require(result["peak_rss_bytes"] as? Int)
        #expect(peak > 0 && peak < Self.limitBytes, "peak RSS \(peak / 1_048_576) MB")
        // Counted by wc, off the pool: reading and scanning ~250 MB here held a cooperative thread for
        // half a minute in the debug build, and a replication test lost its walsender meanwhile.
        let wc = try await OffPoolProcess.run("/usr/bin/wc", ["-l", "\(dir)/out.csv"])
        let lines = Int(wc.stdout.split(separator: " ").first ?? "")
        #expect(lines == 2_200_001, "header + every row")
    }

    /// A paginated export (500,000 records, ~110 MB of JSON over 500 pages) from the fixture API
    /// into a file: memory stays flat in the number of pages (`scripts/rest-export-check.sh` runs
    /// the 2 GB export).
    @Test func aLongPaginatedExportRunsInBoundedMemory() async throws {
        let dir = NSTemporaryDirectory() + "dpone-memory-rest-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = RESTFixtureAPI(records: 500_000, perPage: 1000)
        let base = Mutex("")
        let server = try RESTTestServer { request in api.handle(request, baseURL: base.withLock { $0 }) }
        base.withLock { $0 = server.url }
        defer { server.stop() }
        try """
            name: memory-rest
            source:
              type: rest
              connection: {url: "\(server.url)"}
              options:
                path: /page
                records: data
                paginator: {type: page_number, total_pages_path: total_pages}
                flatten: true
                schema:
                  - {name: id, type: int64, nullable: false}
                  - {name: name, type: string}
                  - {name: amount, type: float64}
                  - {name: updated_at, type: timestamptz}
                  - {name: active, type: bool}
                  - {name: meta__source, type: string}
                  - {name: meta__score, type: int64}
                  - {name: tags, type: json}
            sink: {type: files, path: "\(dir)/out.csv", strategy: {mode: full_refresh}}
            state: {dir: "\(dir)/state"}
            """.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)
        let release = ProcessInfo.processInfo.environment["DPONE_RELEASE_BIN"]!
        let run = try await OffPoolProcess.run(release, ["batch", "\(dir)/pipeline.yml", "--format", "json", "--progress", "none"])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(result["loaded_rows"] as? Int == 500_000)
        let peak = try #require(result["peak_rss_bytes"] as? Int)
        #expect(peak > 0 && peak < Self.limitBytes, "peak RSS \(peak / 1_048_576) MB")
        #expect(server.requests.count == 500)
    }
}
