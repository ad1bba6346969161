import ConnectorKit
import Flow
import Synchronization
import Testing

/// The "Writing a connector" guide's example, built and run through the real engine: the graph
/// runner, bounded channels and the checkpoint coordinator, with an in-memory state store.
@Suite struct ExampleConnectorTests {
    final class MemoryStateStore: StateStore {
        let states = Mutex<[PipelineState]>([])
        func location(pipeline: String) -> String { "(memory)" }
        func load(pipeline: String) async throws -> PipelineState? { states.withLock { $0.last } }
        func commit(_ state: PipelineState) async throws { states.withLock { $0.append(state) } }
        func reset(pipeline: String) async throws { states.withLock { $0 = [] } }
    }

    func run(_ source: CounterSource, into database: MemoryDatabase, store: MemoryStateStore) async throws -> RunReport {
        let previous = try await store.load(pipeline: "example")
        let sink = MemoryTableSink(database: database)
        let coordinator = CheckpointCoordinator(
            pipeline: "example", sinks: [sink.name], store: store, resumingAfter: previous?.checkpoint ?? CheckpointID(0),
            loadID: ULID.make(), runID: ULID.make())
        let graph = PipelineGraph(name: "example", source: source, sinks: [sink])
        return try await GraphRunner(graph: graph, coordinator: coordinator).run(resumeFrom: previous?.source)
    }

    @Test func theExampleLoadsThenResumes() async throws {
        let database = MemoryDatabase()
        let store = MemoryStateStore()
        let first = try await run(CounterSource(upTo: 1_000, batchRows: 64), into: database, store: store)
        #expect(first.sinkCommits["memory"] == SinkCommit(inserted: 1_000))
        #expect(first.committed.last?.source?["last"]?.intValue == 1_000)
        let second = try await run(CounterSource(upTo: 1_500, batchRows: 64), into: database, store: store)
        #expect(second.sinkCommits["memory"] == SinkCommit(inserted: 500), "only the numbers after the durable state")
        #expect(database.committed.withLock { ($0.rows.count, $0.ledger.keys.sorted()) } == (1_500, [1, 2]))
    }
}
