import DponeTestSupport
import Flow
import Foundation
import Testing

@testable import FilesConnector

@Suite struct FileSinkTests {
    let schema = Schema([Field("id", .int64), Field("name", .string)])

    func batch(_ ids: ClosedRange<Int>) -> Batch {
        var builder = BatchBuilder(schema: schema)
        for id in ids { #expect(builder.append(row: [.int(Int64(id)), .string("n\(id)")]) == nil) }
        return builder.finish()
    }

    @Test func fullRefreshPublishesAtomicallyAndReplaces() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out/data.csv")
        for attempt in 0..<2 {
            let sink = try FileSink(options: FileSinkOptions(path: path, flushBytes: 16))
            try await sink.open(schema: schema)
            try await sink.write(batch(1...3))
            try await sink.write(batch(4...5))
            #expect(!FileManager.default.fileExists(atPath: path) || attempt == 1)
            let staged = try FileManager.default.contentsOfDirectory(atPath: dir.file("out"))
            #expect(staged.contains { $0.hasPrefix("data.csv.dpone-tmp-") })
            let commit = try await sink.finalize(CheckpointID(1))
            #expect(commit == SinkCommit(inserted: 5))
            #expect(try dir.read("out/data.csv") == "id,name\n1,n1\n2,n2\n3,n3\n4,n4\n5,n5\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")) == ["data.csv"])
        }
    }

    @Test func fullRefreshWithNoBatchesWritesAHeaderOnlyFile() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sink = try FileSink(options: FileSinkOptions(path: dir.file("e.csv")))
        try await sink.open(schema: schema)
        #expect(try await sink.finalize(CheckpointID(1)) == SinkCommit(inserted: 0))
        #expect(try dir.read("e.csv") == "id,name\n")
        let jsonl = try FileSink(options: FileSinkOptions(path: dir.file("e.jsonl"), format: .jsonl))
        try await jsonl.open(schema: schema)
        _ = try await jsonl.finalize(CheckpointID(1))
        #expect(try dir.read("e.jsonl") == "")
    }

    @Test func fullRefreshAcrossCheckpointsKeepsEveryRow() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sink = try FileSink(options: FileSinkOptions(path: dir.file("d.csv")))
        try await sink.open(schema: schema)
        try await sink.write(batch(1...2))
        #expect(try await sink.finalize(CheckpointID(1)).inserted == 2)
        try await sink.write(batch(3...3))
        #expect(try await sink.finalize(CheckpointID(2)).inserted == 1)
        #expect(try dir.read("d.csv") == "id,name\n1,n1\n2,n2\n3,n3\n")
    }

    @Test func abortRemovesTheTempAndKeepsThePublishedFile() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let old = try dir.write("a.csv", "old\n")
        let sink = try FileSink(options: FileSinkOptions(path: old))
        try await sink.open(schema: schema)
        try await sink.write(batch(1...3))
        await sink.abort()
        #expect(try dir.entries() == ["a.csv"])
        #expect(try dir.read("a.csv") == "old\n")
    }

    @Test func appendWritesOnePartPerCheckpointAndReplaysIdempotently() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let parts = dir.file("parts")
        let options = FileSinkOptions(path: parts, format: .jsonl, strategy: .incrementalAppend)
        let sink = try FileSink(options: options)
        try await sink.open(schema: schema)
        try await sink.write(batch(1...2))
        #expect(try await sink.finalize(CheckpointID(7)) == SinkCommit(inserted: 2))
        #expect(try await sink.finalize(CheckpointID(8)) == SinkCommit(inserted: 0))
        try await sink.write(batch(3...3))
        #expect(try await sink.finalize(CheckpointID(9)).inserted == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: parts).sorted() == ["part-00000007.jsonl", "part-00000009.jsonl"])

        // A replay of checkpoint 9 after a crash (a new sink, a stale temp left behind) replaces its part.
        _ = try dir.write("parts/.part-dead.dpone-tmp", "garbage")
        let replay = try FileSink(options: options)
        try await replay.open(schema: schema)
        try await replay.write(batch(3...3))
        _ = try await replay.finalize(CheckpointID(9))
        #expect(try FileManager.default.contentsOfDirectory(atPath: parts).sorted() == ["part-00000007.jsonl", "part-00000009.jsonl"])
        #expect(try dir.read("parts/part-00000009.jsonl") == "{\"id\":3,\"name\":\"n3\"}\n")
    }

    @Test func sourceToSinkEndToEnd() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let input = "id,name,amount,at\n" + (1...3000).map {
            "\($0),\"name, \($0)\",\($0).25,2024-01-01T00:00:\(String(format: "%02d", $0 % 60))Z\n"
        }.joined()
        let path = try dir.write("in.csv", input)
        let source = try FileSource(options: FileSourceOptions(path: path, batchRows: 500, chunkBytes: 4096))
        let schema = try await source.outputSchema()
        #expect(schema.fields.map(\.type) == [.int64, .string, .decimal(precision: 6, scale: 2), .timestamp(withTimeZone: true)])
        let output = CollectingOutput()
        try await source.run(into: output, resumeFrom: nil)

        let sink = try FileSink(options: FileSinkOptions(path: dir.file("out.csv"), flushBytes: 1000))
        try await sink.open(schema: schema)
        for batch in output.batches { try await sink.write(batch) }
        #expect(try await sink.finalize(CheckpointID(1)).inserted == 3000)
        #expect(try dir.read("out.csv") == input)

        // And through JSON Lines and back.
        let jsonSink = try FileSink(options: FileSinkOptions(path: dir.file("out.jsonl"), format: .jsonl))
        try await jsonSink.open(schema: schema)
        for batch in output.batches { try await jsonSink.write(batch) }
        _ = try await jsonSink.finalize(CheckpointID(1))
        let back = CollectingOutput()
        try await FileSource(options: FileSourceOptions(path: dir.file("out.jsonl"), format: .jsonl, schema: schema))
            .run(into: back, resumeFrom: nil)
        #expect(back.rows == output.rows)
    }

    @Test func partNamesArePadded() {
        #expect(FileSinkState.partName(CheckpointID(42), .csv) == "part-00000042.csv")
        #expect(FileSinkState.partName(CheckpointID(123_456_789), .jsonl) == "part-123456789.jsonl")
    }
}
