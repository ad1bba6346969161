import DponeTestSupport
import Foundation
import Testing

/// The JSON run result of `dpone batch --format json`, with run-specific values (ids, times, rates,
/// memory) normalised, against a golden file; and the text result's shape.
@Suite(.tags(.integrationFiles), .enabled(if: binaryBuilt, "dpone binary not built"))
struct RunResultGoldenTests {
    static let volatile: Set<String> = [
        "run_id", "load_id", "committed_at", "duration_seconds", "rows_per_second", "megabytes_per_second",
        "peak_rss_bytes", "blocked_seconds", "peak_buffered_bytes",
    ]

    static func normalise(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            var out: [String: Any] = [:]
            for (k, v) in object { out[k] = volatile.contains(k) ? "<\(k)>" : normalise(v) }
            return out
        }
        if let array = value as? [Any] { return array.map(normalise) }
        return value
    }

    func workspace() throws -> String {
        let dir = NSTemporaryDirectory() + "dpone-json-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "id,name\n1,a\n2,b\n3,c\n".write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        try """
            name: golden
            source: {type: files, path: in.csv, options: {incremental_column: id}}
            sink: {type: files, path: out, strategy: {mode: incremental_append}}
            state: {dir: state}
            """.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func jsonResultMatchesGolden() async throws {
        let dir = try workspace()
        let out = try await CLI.run(["batch", "pipeline.yml", "--format", "json"], in: dir)
        #expect(out.status == 0, "\(out.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8))
        let object = try #require(parsed as? [String: Any])
        #expect((object["peak_rss_bytes"] as? Int ?? 0) > 0)
        #expect((object["run_id"] as? String)?.count == 26)
        let normalised = try JSONSerialization.data(
            withJSONObject: Self.normalise(parsed), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try CLI.expectGolden(String(decoding: normalised, as: UTF8.self) + "\n", "run-result.json")
    }

    @Test func aFailedRunPrintsAJSONResultAndExitsOne() async throws {
        let dir = try workspace()
        try "id,name\nx,a\n".write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        try """
            name: golden
            source:
              type: files
              path: in.csv
              options:
                incremental_column: id
                schema: [{name: id, type: int64}, {name: name, type: string}]
            sink: {type: files, path: out, strategy: {mode: incremental_append}}
            state: {dir: state}
            """.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)
        let out = try await CLI.run(["batch", "pipeline.yml", "--format", "json"], in: dir)
        #expect(out.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        #expect(object["status"] as? String == "failed")
        #expect((object["error"] as? String)?.contains("line 2") == true, "\(object["error"] ?? "")")
        #expect(object["state"] == nil || object["state"] is NSNull)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/state/golden.json"))
    }

    @Test func stateShowAndResetWork() async throws {
        let dir = try workspace()
        #expect(try await CLI.run(["batch", "pipeline.yml"], in: dir).status == 0)
        let show = try await CLI.run(["state", "show", "pipeline.yml"], in: dir)
        #expect(show.status == 0)
        #expect(show.stdout.contains("\"checkpoint\" : 1"))
        let reset = try await CLI.run(["state", "reset", "pipeline.yml"], in: dir)
        #expect(reset.status == 0)
        #expect(reset.stdout.contains("checkpoint numbering continues after 1"))
        let after = try await CLI.run(["state", "show", "pipeline.yml"], in: dir).stdout
        #expect(after.contains("\"checkpoint\" : 1") && !after.contains("cursor"), "positions forgotten, numbering kept")
        // The next run reads everything again into a new part: nothing is overwritten.
        #expect(try await CLI.run(["batch", "pipeline.yml"], in: dir).status == 0)
        let parts = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/out").sorted()
        #expect(parts == ["part-00000001.csv", "part-00000002.csv"])
    }

    @Test func textResultSummarisesTheRun() async throws {
        let dir = try workspace()
        let out = try await CLI.run(["batch", "pipeline.yml"], in: dir)
        #expect(out.status == 0)
        #expect(out.stdout.contains("golden: succeeded (files -> files, incremental_append)"))
        #expect(out.stdout.contains("extracted 3, loaded 3 (inserted 3"))
        #expect(out.stdout.contains("checkpoint 1 committed"))
    }
}

extension RunResultGoldenTests {
    @Test func dryRunPrintsThePlanAndChangesNothing() async throws {
        let dir = try workspace()
        let out = try await CLI.run(["batch", "pipeline.yml", "--dry-run"], in: dir)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("plan for golden"))
        #expect(out.stdout.contains("before: none (first run: reads everything)"))
        #expect(out.stdout.contains("rename it to out/part-00000001.<ext>"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/state/golden.json"))
        let json = try await CLI.run(["batch", "pipeline.yml", "--dry-run", "--format", "json"], in: dir)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["next_checkpoint"] as? Int == 1)
    }
}

extension RunResultGoldenTests {
    @Test func aDeletedStateNeverOverwritesPublishedParts() async throws {
        let dir = try workspace()
        #expect(try await CLI.run(["batch", "pipeline.yml"], in: dir).status == 0)
        try "id,name\n1,a\n2,b\n3,c\n4,d\n".write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        #expect(try await CLI.run(["batch", "pipeline.yml"], in: dir).status == 0)
        try FileManager.default.removeItem(atPath: "\(dir)/state/golden.json")
        let out = try await CLI.run(["batch", "pipeline.yml"], in: dir)
        #expect(out.status == 1)
        #expect(out.stdout.contains("already holds part 2"), "\(out.stdout)")
        let first = try String(contentsOfFile: "\(dir)/out/part-00000001.csv", encoding: .utf8)
        #expect(first == "id,name\n1,a\n2,b\n3,c\n", "published rows are untouched")
    }
}
