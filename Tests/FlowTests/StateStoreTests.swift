import Flow
import Foundation
import Testing

@Suite struct FileStateStoreTests {
    @Test func commitThenLoadRoundTripsAndLeavesNoTempFiles() async throws {
        let dir = temporaryDirectory() + "/state"
        let store = FileStateStore(directory: dir)
        #expect(try await store.load(pipeline: "orders") == nil)
        let state = PipelineState(
            pipeline: "orders", checkpoint: CheckpointID(3),
            source: .object(["cursor": .object(["column": .string("id"), "value": .string("42")])]),
            loadID: "01J", runID: "01K", committedAt: "2026-11-25T00:00:00Z")
        try await store.commit(state)
        #expect(try await store.load(pipeline: "orders") == state)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["orders.json"])
        let text = try String(contentsOfFile: dir + "/orders.json", encoding: .utf8)
        #expect(text.contains("\"checkpoint\" : 3"))
        try await store.reset(pipeline: "orders")
        #expect(try await store.load(pipeline: "orders") == nil)
    }

    @Test func aCorruptDocumentIsAClearError() async throws {
        let dir = temporaryDirectory()
        try "{not json".write(toFile: dir + "/p.json", atomically: true, encoding: .utf8)
        await #expect {
            _ = try await FileStateStore(directory: dir).load(pipeline: "p")
        } throws: { error in
            (error as? DponeError)?.kind == .state && "\(error)".contains("p.json")
        }
    }

    @Test func aSecondRunOfThePipelineIsFenced() throws {
        let dir = temporaryDirectory()
        let first = try PipelineLock(directory: dir, pipeline: "orders")
        #expect {
            _ = try PipelineLock(directory: dir, pipeline: "orders")
        } throws: { error in
            "\(error)".contains("already running") && "\(error)".contains("pid \(getpid())")
        }
        _ = first
        let other = try PipelineLock(directory: dir, pipeline: "customers")
        _ = other
    }

    @Test func theLockIsReleasedWithItsOwner() throws {
        let dir = temporaryDirectory()
        do { _ = try PipelineLock(directory: dir, pipeline: "p") }
        let again = try PipelineLock(directory: dir, pipeline: "p")
        #expect(again.path.hasSuffix("p.lock"))
    }
}
