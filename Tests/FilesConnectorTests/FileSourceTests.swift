import Foundation
import DponeTestSupport
import Flow
import Testing

@testable import FilesConnector

@Suite struct FileSourceTests {
    static func numbersCSV(_ range: ClosedRange<Int>) -> String {
        "id,label\n" + range.map { "\($0),\"row \($0)\"\n" }.joined()
    }

    @Test func readsAFileInBatchesAndCheckpointsAtTheEnd() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("in.csv", Self.numbersCSV(1...1000))
        let source = try FileSource(options: FileSourceOptions(path: path, batchRows: 100, chunkBytes: 37))
        let schema = try await source.outputSchema()
        #expect(schema == Schema([Field("id", .int64), Field("label", .string)]))
        let output = CollectingOutput()
        try await source.run(into: output, resumeFrom: nil)
        #expect(output.rows.count == 1000)
        #expect(output.rows.first == [.int(1), .string("row 1")])
        #expect(output.rows.last == [.int(1000), .string("row 1000")])
        #expect(output.batches.count > 1)
        #expect(output.checkpoints == [.object(["file": .string(path), "rows": .int(1000)])])
    }

    @Test func readsJSONLinesWithAGivenSchema() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("in.jsonl", "{\"a\": 1}\n{\"b\": \"x\"}\n")
        let schema = Schema([Field("a", .int32), Field("b", .string)])
        let source = try FileSource(options: FileSourceOptions(path: path, format: .jsonl, schema: schema))
        let output = CollectingOutput()
        try await source.run(into: output, resumeFrom: nil)
        #expect(output.rows == [[.int(1), .null], [.null, .string("x")]])
    }

    @Test func incrementalEmitsOnlyRowsPastTheCursor() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("log.csv", Self.numbersCSV(1...10))
        let options = FileSourceOptions(path: path, incrementalColumn: "id", batchRows: 3)
        let first = CollectingOutput()
        try await FileSource(options: options).run(into: first, resumeFrom: nil)
        #expect(first.rows.count == 10)
        let state = try #require(first.checkpoints.last)
        #expect(state == .object(["cursor": .object(["column": .string("id"), "value": .string("10")])]))

        _ = try dir.write("log.csv", Self.numbersCSV(1...13))
        let second = CollectingOutput()
        try await FileSource(options: options).run(into: second, resumeFrom: state)
        #expect(second.rows.map { $0[0] } == [.int(11), .int(12), .int(13)])
        let newState = try #require(second.checkpoints.last)
        #expect(newState["cursor"]?["value"] == .string("13"))

        let third = CollectingOutput()
        try await FileSource(options: options).run(into: third, resumeFrom: newState)
        #expect(third.rows.isEmpty)
        #expect(third.checkpoints == [newState])
    }

    @Test func incrementalOnTimestamps() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("log.csv", "at,v\n2024-01-01T00:00:00Z,1\n2024-01-02T00:00:00Z,2\n2024-01-03T00:00:00Z,3\n")
        let resume: StateValue = .object(["cursor": .object(["column": .string("at"), "value": .string("2024-01-02T00:00:00Z")])])
        let output = CollectingOutput()
        try await FileSource(options: FileSourceOptions(path: path, incrementalColumn: "at")).run(into: output, resumeFrom: resume)
        #expect(output.rows.map { $0[1] } == [.int(3)])
        #expect(output.checkpoints.last?["cursor"]?["value"] == .string("2024-01-03T00:00:00Z"))
    }

    @Test func nullCursorIsAnErrorNamingTheLine() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("log.csv", "id,v\n1,a\n,b\n")
        let schema = Schema([Field("id", .int64), Field("v", .string)])
        let source = try FileSource(options: FileSourceOptions(path: path, schema: schema, incrementalColumn: "id"))
        let error = await dponeError { try await source.run(into: CollectingOutput(), resumeFrom: nil) }
        #expect(error?.message == "NULL in non-nullable column \"id\" at line 3 of \(path)")
    }

    @Test func unknownIncrementalColumnIsAManifestError() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("in.csv", "id\n1\n")
        let source = try FileSource(options: FileSourceOptions(path: path, incrementalColumn: "nope"))
        let error = await dponeError { try await source.run(into: CollectingOutput(), resumeFrom: nil) }
        #expect(error?.kind == .manifest)
    }

    @Test func missingFileIsAnIOError() async throws {
        let source = try FileSource(options: FileSourceOptions(path: "/nonexistent/dpone/in.csv"))
        let error = await dponeError { _ = try await source.outputSchema() }
        #expect(error?.kind == .io)
        #expect(error?.context["file"] == "/nonexistent/dpone/in.csv")
    }

    @Test func cancellationStopsTheRead() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("in.csv", Self.numbersCSV(1...20000))
        let schema = Schema([Field("id", .int64), Field("label", .string)])
        let source = try FileSource(options: FileSourceOptions(path: path, schema: schema, batchRows: 10, chunkBytes: 16))
        let task = Task { try await source.run(into: SlowOutput(), resumeFrom: nil) }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        let result = await task.result
        #expect(throws: DponeError.self) { try result.get() }
    }
}

/// An output that takes a while per batch, so a read is still running when the test cancels it.
final class SlowOutput: SourceOutput {
    func send(_ batch: Batch) async throws {}
    func sendBlocking(_ batch: Batch) throws { usleep(1000) }
    func checkpoint(positions: StateValue) async throws -> CheckpointID { CheckpointID(1) }
    func checkpointBlocking(positions: StateValue) throws -> CheckpointID { CheckpointID(1) }
}
