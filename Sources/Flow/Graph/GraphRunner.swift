import Dispatch
import Foundation
import Synchronization

/// What a finished run reports.
public struct RunReport: Sendable {
    public var edges: [EdgeMetrics.Snapshot]
    public var sinkCommits: [String: SinkCommit]
    public var committed: [PipelineState]
    /// Rows and bytes the source emitted, over all its routes.
    public var sourceRows: Int
    public var sourceBytes: Int
    /// Rows that reached the sinks (after the transforms), over all routes.
    public var loadedRows: Int
    /// The first route's output schema.
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
    ///     The source's edges (one per route) come first, in route order.
    public func run(
        resumeFrom: StateValue?, onEdges: (@Sendable ([EdgeMetrics]) -> Void)? = nil
    ) async throws -> RunReport {
        let start = DispatchTime.now().uptimeNanoseconds
        let sourceSchemas = try await graph.source.outputSchemas()
        guard sourceSchemas.count == graph.routes.count else {
            throw DponeError(
                .internal, "source \(graph.source.name) has \(sourceSchemas.count) outputs, the graph \(graph.routes.count) routes")
        }
        await coordinator.register(source: graph.source)

        // Wire each route: source -> t1 -> ... -> tn -> (broadcast) -> sinks.
        var edges: [EdgeMetrics] = []
        var sourceSenders: [ChannelSender] = []
        var stages: [(any BatchTransform, ChannelReceiver, ChannelSender)] = []
        var sinkInputs: [(any SinkOperator, ChannelReceiver)] = []
        var broadcasts: [(ChannelReceiver, [ChannelSender])] = []
        var sinkSchemas: [(any SinkOperator, Schema)] = []
        var outputSchema = sourceSchemas[0]
        var routeOutputs: [EdgeMetrics] = []
        let named = graph.routes.count > 1
        for (r, route) in graph.routes.enumerated() {
            let schemas = try PipelineGraph.resolve(route.transforms, sourceSchema: sourceSchemas[r])
            if r == 0 { outputSchema = schemas[schemas.count - 1] }
            let prefix = named ? "\(route.name): " : ""
            let first = BatchChannel.make(
                name: "\(prefix)\(graph.source.name)->\(route.transforms.first?.name ?? "sinks")", bounds: graph.bounds)
            edges.append(first.sender.metrics)
            sourceSenders.append(first.sender)
            var upstream = first.receiver
            var last = first.sender.metrics
            for (i, t) in route.transforms.enumerated() {
                let nextName = i + 1 < route.transforms.count ? route.transforms[i + 1].name : "sinks"
                let edge = BatchChannel.make(name: "\(prefix)\(t.name)->\(nextName)", bounds: graph.bounds)
                edges.append(edge.sender.metrics)
                stages.append((t, upstream, edge.sender))
                upstream = edge.receiver
                last = edge.sender.metrics
            }
            routeOutputs.append(last)
            if route.sinks.count == 1 {
                sinkInputs.append((route.sinks[0], upstream))
            } else {
                var outputs: [ChannelSender] = []
                for sink in route.sinks {
                    let edge = BatchChannel.make(name: "\(prefix)broadcast->\(sink.name)", bounds: graph.bounds)
                    edges.append(edge.sender.metrics)
                    outputs.append(edge.sender)
                    sinkInputs.append((sink, edge.receiver))
                }
                broadcasts.append((upstream, outputs))
            }
            for sink in route.sinks { sinkSchemas.append((sink, schemas[schemas.count - 1])) }
        }
        let sourceEdges = sourceSenders.map(\.metrics)
        onEdges?(edges)

        for (sink, schema) in sinkSchemas {
            try schema.requireUsableNames("the rows for sink \(sink.name)")
            try await sink.open(schema: schema)
        }

        let sourceOutput = SourceChannelOutput(senders: sourceSenders, coordinator: coordinator)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let source = graph.source
                group.addTask {
                    do {
                        try await source.run(into: sourceOutput, resumeFrom: resumeFrom)
                        sourceOutput.finish()
                    } catch {
                        sourceOutput.finish(throwing: error)
                        throw error
                    }
                }
                for (transform, input, output) in stages {
                    group.addTask { try await Self.runTransform(transform, input: input, output: output) }
                }
                for (input, outputs) in broadcasts {
                    group.addTask { try await Self.runBroadcast(input: input, outputs: outputs) }
                }
                for (sink, input) in sinkInputs {
                    let coordinator = self.coordinator
                    group.addTask {
                        do {
                            try await Self.runSink(sink, input: input, coordinator: coordinator)
                        } catch {
                            // The group waits for every task: end the acknowledgements too.
                            await coordinator.fail()
                            throw error
                        }
                        await coordinator.sinkFinished(sink.name)
                    }
                }
                // Sources are acknowledged from a task of the coordinator's own, never from a sink's.
                let coordinator = self.coordinator
                group.addTask { try await coordinator.runAcknowledgements() }
                // Every task's outcome, not only the first failure's: when one task fails, others
                // fail in consequence (a source's next barrier after the coordinator failed, a
                // closed channel), and whichever finishes first must not hide the cause.
                var failures: [any Error] = []
                while let outcome = await group.nextResult() {
                    guard case .failure(let error) = outcome else { continue }
                    if failures.isEmpty { group.cancelAll() }
                    failures.append(error)
                }
                if !failures.isEmpty { throw GraphFailures(errors: failures) }
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
            sourceRows: sourceEdges.reduce(0) { $0 + $1.snapshot.rows },
            sourceBytes: sourceEdges.reduce(0) { $0 + $1.snapshot.bytes },
            loadedRows: routeOutputs.reduce(0) { $0 + $1.snapshot.rows },
            outputSchema: outputSchema,
            durationSeconds: elapsed)
    }

    /// The cause among the graph's failures: the first that is not a consequence of another
    /// (`isConsequence`), else the first. Seen in CI: a sink refused a value, the source's next
    /// barrier failed with "cannot start a checkpoint after a failure" first, and that hid the cause.
    static func primaryError(_ error: any Error) -> any Error {
        guard let failures = error as? GraphFailures, let first = failures.errors.first else { return error }
        return failures.errors.first { !isConsequence($0) } ?? first
    }

    /// Whether `error` only follows from another task's failure: a cancellation, a checkpoint
    /// refused after the coordinator failed, a channel whose other end is gone.
    static func isConsequence(_ error: any Error) -> Bool {
        if error is CancellationError { return true }
        if let dpone = error as? DponeError {
            return dpone.kind == .cancelled || dpone.context[DponeError.consequenceKey] == "true"
        }
        return String(describing: type(of: error)).contains("AsyncChannel")
    }

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
                // Several sinks: align, so no sink runs a checkpoint ahead of the durable state.
                try await coordinator.awaitDurable(id)
            }
        }
        try Task.checkCancellation()
    }
}

/// The source's view of its output edges (one per route): batches go to their route's channel; a
/// checkpoint first registers with the coordinator (which numbers it) and then travels as a barrier
/// behind the batches before it, on every route.
struct SourceChannelOutput: SourceOutput {
    let senders: [ChannelSender]
    let coordinator: CheckpointCoordinator

    func finish() { for s in senders { s.finish() } }
    func finish(throwing error: any Error) { for s in senders { s.finish(throwing: error) } }

    func send(_ batch: Batch) async throws { try await send(batch, route: 0) }
    func sendBlocking(_ batch: Batch) throws { try sendBlocking(batch, route: 0) }

    func send(_ batch: Batch, route: Int) async throws {
        try await sender(route).send(.batch(batch))
    }

    func sendBlocking(_ batch: Batch, route: Int) throws {
        try sender(route).sendBlocking(.batch(batch))
    }

    private func sender(_ route: Int) throws -> ChannelSender {
        guard senders.indices.contains(route) else {
            throw DponeError(.internal, "a batch of route \(route) was sent; the graph has \(senders.count) routes")
        }
        return senders[route]
    }

    func checkpoint(positions: StateValue) async throws -> CheckpointID {
        try await inject(positions: positions, complete: false)
    }

    func completeCheckpoint(positions: StateValue) async throws -> CheckpointID {
        try await inject(positions: positions, complete: true)
    }

    private func inject(positions: StateValue, complete: Bool) async throws -> CheckpointID {
        let id = try await coordinator.injectBarrier(positions: positions, complete: complete)
        for s in senders { try await s.send(.barrier(id)) }
        return id
    }

    func checkpointBlocking(positions: StateValue) throws -> CheckpointID {
        try injectBlocking(positions: positions, complete: false)
    }

    func completeCheckpointBlocking(positions: StateValue) throws -> CheckpointID {
        try injectBlocking(positions: positions, complete: true)
    }

    private func injectBlocking(positions: StateValue, complete: Bool) throws -> CheckpointID {
        let coordinator = self.coordinator
        let semaphore = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Task {
            box.set(await Result { try await coordinator.injectBarrier(positions: positions, complete: complete) })
            semaphore.signal()
        }
        semaphore.wait()
        let id = try box.get()
        for s in senders { try s.sendBlocking(.barrier(id)) }
        return id
    }
}

/// Hands a barrier id from the task that injected it to the thread waiting on the semaphore.
private final class ResultBox: Sendable {
    private let result = Mutex<Result<CheckpointID, any Error>>(.failure(CancellationError()))
    func set(_ r: Result<CheckpointID, any Error>) { result.withLock { $0 = r } }
    func get() throws -> CheckpointID { try result.withLock { $0 }.get() }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Every failure of one graph run, in the order the tasks ended.
struct GraphFailures: Error {
    var errors: [any Error]
}
