import Dispatch
import Foundation

/// What a finished run reports.
public struct RunReport: Sendable {
    public var edges: [EdgeMetrics.Snapshot]
    public var sinkCommits: [String: SinkCommit]
    public var committed: [PipelineState]
    public var sourceRows: Int
    public var outputSchema: Schema
    public var durationSeconds: Double
}

/// Runs a `PipelineGraph` to completion under a `CheckpointCoordinator`.
///
/// Every stage is a child task; the first error cancels the others, sinks abort their staged data
/// and the error is rethrown. State is written only by the coordinator, after every sink published.
public struct GraphRunner: Sendable {
    public let graph: PipelineGraph
    public let coordinator: CheckpointCoordinator

    public init(graph: PipelineGraph, coordinator: CheckpointCoordinator) {
        self.graph = graph
        self.coordinator = coordinator
    }

    /// - Parameters:
    ///   - resumeFrom: the source positions of the last durable state.
    ///   - onEdges: called with the edge list once the graph is wired, so a caller can poll progress.
    public func run(
        resumeFrom: StateValue?, onEdges: (@Sendable ([EdgeMetrics]) -> Void)? = nil
    ) async throws -> RunReport {
        let start = DispatchTime.now().uptimeNanoseconds
        let schemas = try graph.resolveSchemas(sourceSchema: try await graph.source.outputSchema())
        let outputSchema = schemas[schemas.count - 1]
        await coordinator.register(source: graph.source)

        // Wire the edges: source -> t1 -> ... -> tn -> (broadcast) -> sinks.
        var edges: [EdgeMetrics] = []
        let first = BatchChannel.make(name: "\(graph.source.name)->\(graph.transforms.first?.name ?? "sinks")", bounds: graph.bounds)
        edges.append(first.sender.metrics)
        var upstream = first.receiver
        var stages: [(any BatchTransform, ChannelReceiver, ChannelSender)] = []
        for (i, t) in graph.transforms.enumerated() {
            let nextName = i + 1 < graph.transforms.count ? graph.transforms[i + 1].name : "sinks"
            let edge = BatchChannel.make(name: "\(t.name)->\(nextName)", bounds: graph.bounds)
            edges.append(edge.sender.metrics)
            stages.append((t, upstream, edge.sender))
            upstream = edge.receiver
        }
        var sinkInputs: [(any SinkOperator, ChannelReceiver)] = []
        var broadcastOutputs: [ChannelSender] = []
        if graph.sinks.count == 1 {
            sinkInputs.append((graph.sinks[0], upstream))
        } else {
            for sink in graph.sinks {
                let edge = BatchChannel.make(name: "broadcast->\(sink.name)", bounds: graph.bounds)
                edges.append(edge.sender.metrics)
                broadcastOutputs.append(edge.sender)
                sinkInputs.append((sink, edge.receiver))
            }
        }
        onEdges?(edges)

        for sink in graph.sinks { try await sink.open(schema: outputSchema) }

        let sourceOutput = SourceChannelOutput(sender: first.sender, coordinator: coordinator)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let source = graph.source
                group.addTask {
                    do {
                        try await source.run(into: sourceOutput, resumeFrom: resumeFrom)
                        sourceOutput.sender.finish()
                    } catch {
                        sourceOutput.sender.finish(throwing: error)
                        throw error
                    }
                }
                for (transform, input, output) in stages {
                    group.addTask { try await Self.runTransform(transform, input: input, output: output) }
                }
                if !broadcastOutputs.isEmpty {
                    let input = upstream
                    let outputs = broadcastOutputs
                    group.addTask { try await Self.runBroadcast(input: input, outputs: outputs) }
                }
                for (sink, input) in sinkInputs {
                    let coordinator = self.coordinator
                    group.addTask { try await Self.runSink(sink, input: input, coordinator: coordinator) }
                }
                try await group.waitForAll()
            }
        } catch {
            await coordinator.fail()
            for sink in graph.sinks { await sink.abort() }
            throw Self.primaryError(error)
        }

        for sink in graph.sinks { await sink.close() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return RunReport(
            edges: edges.map(\.snapshot),
            sinkCommits: await coordinator.sinkCommits,
            committed: await coordinator.committed,
            sourceRows: edges[0].snapshot.rows,
            outputSchema: outputSchema,
            durationSeconds: elapsed)
    }

    /// Channel-closed and cancellation errors are consequences; the caller wants the cause. The task
    /// group rethrows the first error thrown, which is the cause unless a consequence won the race.
    static func primaryError(_ error: any Error) -> any Error { error }

    static func runTransform(_ transform: any BatchTransform, input: ChannelReceiver, output: ChannelSender)
        async throws
    {
        // Every consumer drops its input when it ends: a failed stage must wake the producers
        // upstream (a source blocked on a full channel would otherwise keep the graph from ending).
        defer { input.close() }
        do {
            while let message = try await input.next() {
                switch message {
                case .batch(let batch): try await output.send(.batch(try transform.apply(batch)))
                case .barrier: try await output.send(message)
                }
            }
            output.finish()
        } catch {
            output.finish(throwing: error)
            throw error
        }
    }

    static func runBroadcast(input: ChannelReceiver, outputs: [ChannelSender]) async throws {
        defer { input.close() }
        do {
            while let message = try await input.next() {
                for output in outputs { try await output.send(message) }
            }
            for output in outputs { output.finish() }
        } catch {
            for output in outputs { output.finish(throwing: error) }
            throw error
        }
    }

    static func runSink(_ sink: any SinkOperator, input: ChannelReceiver, coordinator: CheckpointCoordinator)
        async throws
    {
        defer { input.close() }
        while let message = try await input.next() {
            switch message {
            case .batch(let batch):
                if !sink.appliesDeletes, let ops = batch.operations, let row = ops.firstIndex(of: .delete) {
                    // A delete event the sink would store as an ordinary row: fail before anything
                    // of this checkpoint is published rather than lose the delete.
                    throw DponeError(
                        .sink, "the source sent a delete (row \(row) of a batch) that sink \(sink.name) cannot apply with its strategy",
                        hint: "use a sink and strategy that apply deletes (a kafka sink; cdc_apply), or have the source skip deletes (tombstones: skip)",
                        context: ["sink": sink.name])
                }
                try await sink.write(batch)
            case .barrier(let id):
                FaultPoint.afterStage.trigger()
                let commit = try await sink.finalize(try await coordinator.context(for: id))
                try await coordinator.sinkFinalized(sink.name, id, commit: commit)
            }
        }
        try Task.checkCancellation()
    }
}

/// The source's view of its output edge: batches go to the channel; a checkpoint first registers
/// with the coordinator (which numbers it) and then travels as a barrier behind the batches before it.
struct SourceChannelOutput: SourceOutput {
    let sender: ChannelSender
    let coordinator: CheckpointCoordinator

    func send(_ batch: Batch) async throws {
        try await sender.send(.batch(batch))
    }

    func sendBlocking(_ batch: Batch) throws {
        try sender.sendBlocking(.batch(batch))
    }

    func checkpoint(positions: StateValue) async throws -> CheckpointID {
        let id = try await coordinator.injectBarrier(positions: positions)
        try await sender.send(.barrier(id))
        return id
    }

    func checkpointBlocking(positions: StateValue) throws -> CheckpointID {
        let coordinator = self.coordinator
        let semaphore = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Task {
            box.set(await Result { try await coordinator.injectBarrier(positions: positions) })
            semaphore.signal()
        }
        semaphore.wait()
        let id = try box.get()
        try sender.sendBlocking(.barrier(id))
        return id
    }
}

private final class ResultBox: @unchecked Sendable {
    // Written once by the task before the semaphore is signalled, read after the wait.
    private var result: Result<CheckpointID, any Error> = .failure(CancellationError())
    func set(_ r: Result<CheckpointID, any Error>) { result = r }
    func get() throws -> CheckpointID { try result.get() }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
