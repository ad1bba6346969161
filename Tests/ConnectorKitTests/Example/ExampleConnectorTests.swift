import ConnectorKit
import Flow
import Manifest
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

    static func manifest(upTo: String) -> String {
        """
        name: example
        source:
          type: counter
          options: {up_to: \(upTo), batch_rows: 64}
        sink:
          type: memory
          table: numbers
          strategy: {mode: incremental_merge, unique_key: [n]}
        """
    }

    /// The manifest decoded with the example's connectors, and its operators built by them.
    func run(manifest: String, into database: MemoryDatabase, store: MemoryStateStore) async throws -> RunReport {
        let connectors: [any ConnectorDescriptor] = [CounterDescriptor(), MemoryDescriptor(database: database)]
        let document = try ManifestLoader.parse(yaml: manifest, path: "example.yml", environment: [:], connectors: connectors)
        let source = try connectors[0].makeSource(SourceRequest(config: document.source, pipeline: document.name))
        let sink = try connectors[1].makeSink(SinkRequest(config: document.sink, pipeline: document.name, loadID: ULID.make()))
        return try await run(source, sink, store: store)
    }

    func run(_ source: any SourceOperator, _ sink: any SinkOperator, store: MemoryStateStore) async throws -> RunReport {
        let previous = try await store.load(pipeline: "example")
        let coordinator = CheckpointCoordinator(
            pipeline: "example", sinks: [sink.name], store: store, resumingAfter: previous?.checkpoint ?? CheckpointID(0),
            loadID: ULID.make(), runID: ULID.make())
        let graph = PipelineGraph(name: "example", source: source, sinks: [sink])
        return try await GraphRunner(graph: graph, coordinator: coordinator).run(resumeFrom: previous?.source)
    }

    @Test func theExampleLoadsThenResumes() async throws {
        let database = MemoryDatabase()
        let store = MemoryStateStore()
        let first = try await run(manifest: Self.manifest(upTo: "1000"), into: database, store: store)
        #expect(first.sinkCommits["memory"] == SinkCommit(inserted: 1_000))
        #expect(first.committed.last?.source?["last"]?.intValue == 1_000)
        let second = try await run(manifest: Self.manifest(upTo: "1500"), into: database, store: store)
        #expect(second.sinkCommits["memory"] == SinkCommit(inserted: 500), "only the numbers after the durable state")
        #expect(database.committed.withLock { ($0.rows.count, $0.ledger.keys.sorted()) } == (1_500, [1, 2]))
    }

    /// The example's option errors come out like every manifest error: file, line, key and a hint.
    @Test func theExampleOptionsAreCheckedWhereTheyAreWritten() throws {
        let connectors: [any ConnectorDescriptor] = [CounterDescriptor(), MemoryDescriptor(database: MemoryDatabase())]
        func errors(_ yaml: String) -> [String] {
            do {
                _ = try ManifestLoader.parse(yaml: yaml, path: "example.yml", environment: [:], connectors: connectors)
                return []
            } catch {
                return error.errors.map { "\($0.file):\($0.line):\($0.column) \($0.keyPath): \($0.message) \($0.hint ?? "")" }
            }
        }
        #expect(errors(Self.manifest(upTo: "0")) == ["example.yml:4:20 source.options.up_to: expected a positive integer, found 0 "])
        let misspelt = Self.manifest(upTo: "1").replacingOccurrences(of: "up_to:", with: "upto:")
        #expect(errors(misspelt).contains("example.yml:4:13 source.options.upto: unknown key 'upto' did you mean 'up_to'?"))
        let unknownType = Self.manifest(upTo: "1").replacingOccurrences(of: "type: memory", with: "type: memroy")
        #expect(errors(unknownType) == ["example.yml:6:9 sink.type: unknown sink type 'memroy'; expected one of: memory did you mean 'memory'?"])
        let wrongMode = Self.manifest(upTo: "1").replacingOccurrences(of: "incremental_merge", with: "full_refresh")
        #expect(errors(wrongMode).first?.contains("strategy mode 'full_refresh' is not supported by a memory sink; supported: incremental_merge") == true)
    }
}
