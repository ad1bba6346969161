import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import Testing

/// files -> files pipelines run in-process through the real graph, coordinator and file state store.
@Suite(.tags(.integrationFiles))
struct BatchPipelineTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-pipeline-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func write(_ text: String, to name: String) throws {
        try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
    }

    func append(_ text: String, to name: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/\(name)"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    func read(_ name: String) throws -> String { try String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8) }

    func manifest(_ yaml: String) throws -> ManifestDocument {
        try ManifestLoader.parse(yaml: yaml, path: "\(dir)/pipeline.yml", environment: ["DIR": dir])
    }

    static func rows(_ range: ClosedRange<Int>) -> String {
        range.map { "\($0),c\($0 % 7),\($0 % 100).\(String(format: "%02d", $0 % 100)),\($0 % 3 == 0 ? "cancelled" : "paid")\n" }
            .joined()
    }

    var incremental: String {
        """
        name: orders
        source:
          type: files
          path: ${DIR}/orders.csv
          options:
            incremental_column: id
            schema:
              - {name: id, type: int64, nullable: false}
              - {name: customer, type: string}
              - {name: amount, type: "decimal(12,2)"}
              - {name: status, type: string}
        sink:
          type: files
          path: ${DIR}/out
          strategy: {mode: incremental_append}
        state:
          dir: ${DIR}/state
        transforms:
          - {type: filter, predicate: "status != 'cancelled'"}
          - {type: select, columns: [id, amount]}
        """
    }

    @Test func fullRefreshReplacesTheOutputAndCommitsState() async throws {
        try write("id,name,score\n1,ann,2.5\n2,bob,\n3,\"c, d\",7\n", to: "in.csv")
        let doc = try manifest(
            """
            name: people
            source: {type: files, path: "${DIR}/in.csv"}
            sink:
              type: files
              path: ${DIR}/people.jsonl
              strategy: {mode: full_refresh}
            state: {dir: "${DIR}/state"}
            transforms:
              - {type: rename, columns: {name: full_name}}
            """)
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.extractedRows == 3 && result.loadedRows == 3 && result.insertedRows == 3)
        #expect(result.state?.checkpoint == CheckpointID(1))
        let lines = try read("people.jsonl").split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].contains("\"full_name\":\"ann\"") && lines[0].contains("\"score\":2.5"))
        #expect(lines[1].contains("\"score\":null"))
        #expect(lines[2].contains("\"full_name\":\"c, d\""))

        // A second run replaces the file rather than appending to it.
        try write("id,name,score\n9,zed,1\n", to: "in.csv")
        let again = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(again.status == .succeeded)
        #expect(try read("people.jsonl").split(separator: "\n").count == 1)
        #expect(again.state?.checkpoint == CheckpointID(2))
    }

    @Test func aSecondIncrementalRunReadsOnlyNewRows() async throws {
        try write("id,customer,amount,status\n" + Self.rows(1...1000), to: "orders.csv")
        let doc = try manifest(incremental)
        let first = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(first.extractedRows == 1000)
        #expect(first.loadedRows == 667, "cancelled rows (every third) are filtered out")
        #expect(first.state?.source?["cursor"]?["value"] == .string("1000"))

        try append(Self.rows(1001...1030), to: "orders.csv")
        let second = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.extractedRows == 30, "only rows past the committed cursor are read")
        #expect(second.loadedRows == 20)
        #expect(second.state?.source?["cursor"]?["value"] == .string("1030"))

        let parts = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/out").sorted()
        #expect(parts == ["part-00000001.csv", "part-00000002.csv"])
        let ids = try parts.flatMap { try read("out/\($0)").split(separator: "\n").dropFirst() }
            .map { Int($0.split(separator: ",")[0])! }
        #expect(ids == (1...1030).filter { $0 % 3 != 0 }, "every kept row exactly once, in order")

        let third = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(third.extractedRows == 0 && third.status == .succeeded)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/out").count == 2, "no empty part")
    }

    /// Without state every run is a new load: its checkpoint must not collide with the previous run's
    /// (the second append would otherwise replace the first run's part as a "replay").
    @Test func runsWithoutStateNeverLookLikeReplays() async throws {
        try write("id,customer,amount,status\n" + Self.rows(1...10), to: "orders.csv")
        let stateless = incremental.replacingOccurrences(of: "state:\n  dir: ${DIR}/state", with: "state: {type: disabled}")
        #expect(stateless != incremental)
        let doc = try manifest(stateless)
        let first = await BatchPipeline.run(document: doc, options: BatchOptions())
        try await Task.sleep(for: .milliseconds(5))
        let second = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(first.status == .succeeded && second.status == .succeeded, "\(first.error ?? "") \(second.error ?? "")")
        let parts = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/out").sorted()
        #expect(parts.count == 2, "each run wrote its own part: \(parts)")
        let ids = try parts.flatMap { try read("out/\($0)").split(separator: "\n").dropFirst() }
        #expect(ids.count == 14, "both runs' 7 kept rows")
    }

    @Test func aFailedRunLeavesTargetAndStateUnchanged() async throws {
        try write("id,customer,amount,status\n" + Self.rows(1...10), to: "orders.csv")
        let doc = try manifest(incremental)
        let first = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(first.status == .succeeded)
        let stateBefore = try read("state/orders.json")
        let partsBefore = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/out").sorted()

        // A malformed value after the cursor fails the run before anything is published.
        try append("11,c1,12.34,paid\n12,c2,not-a-number,paid\n", to: "orders.csv")
        let failed = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(failed.status == .failed)
        #expect(failed.exitCode == 1)
        #expect(failed.error?.contains("not-a-number") == true, "\(failed.error ?? "")")
        #expect(failed.state == nil)
        #expect(try read("state/orders.json") == stateBefore)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/out").sorted() == partsBefore)
    }

    @Test func aConcurrentRunOfTheSamePipelineIsRefused() async throws {
        try write("id,customer,amount,status\n" + Self.rows(1...10), to: "orders.csv")
        let doc = try manifest(incremental)
        let held = try PipelineLock(directory: "\(dir)/state", pipeline: "orders")
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(result.status == .failed)
        #expect(result.error?.contains("already running") == true)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out"))
        _ = held
    }
}
