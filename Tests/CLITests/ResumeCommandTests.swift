import Foundation
import Testing

/// `dpone resume` of a plain batch pipeline (files -> files, no server): it says what it resumes
/// after, and `--run` refuses a checkpoint committed by another run.
@Suite(.enabled(if: binaryBuilt, "dpone binary not built"))
struct ResumeCommandTests {
    func workspace() throws -> String {
        let dir = NSTemporaryDirectory() + "dpone-resume-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "id,name\n1,a\n2,b\n".write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        try """
            name: resumed
            source: {type: files, path: in.csv, options: {incremental_column: id}}
            sink: {type: files, path: out, strategy: {mode: incremental_append}}
            state: {dir: state}
            """.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func resumeSaysWhereItContinuesAndChecksTheRun() async throws {
        let dir = try workspace()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try await CLI.run(["resume", "pipeline.yml", "--format", "json"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("no durable checkpoint for resumed: the run starts from the beginning"), "\(first.stderr)")
        let runID = try #require((try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])?["run_id"] as? String)
        try "id,name\n1,a\n2,b\n3,c\n".write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        let wrong = try await CLI.run(["resume", "pipeline.yml", "--run", "01NOTTHATRUN"], in: dir)
        #expect(wrong.status == 1, "\(wrong.stdout) \(wrong.stderr)")
        #expect(wrong.stderr.contains("was committed by run \(runID), not 01NOTTHATRUN"), "\(wrong.stderr)")
        let second = try await CLI.run(["resume", "pipeline.yml", "--run", runID, "--format", "json"], in: dir)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resuming resumed after checkpoint 1"), "\(second.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        #expect(result["extracted_rows"] as? Int == 1, "only the row after the cursor is read: \(result)")
    }
}
