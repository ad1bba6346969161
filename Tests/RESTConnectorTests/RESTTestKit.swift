import DponeTestSupport
import Flow
import Foundation
import Synchronization
import Testing

@testable import RESTConnector

/// A virtual clock: sleeping records the wait and advances time without waiting.
final class VirtualClock: RESTClock, @unchecked Sendable {
    private let state = Mutex<(now: Double, sleeps: [Double])>((1_800_000_000, []))
    var sleeps: [Double] { state.withLock { $0.sleeps } }
    func now() -> Double { state.withLock { $0.now } }
    func advance(_ seconds: Double) { state.withLock { $0.now += seconds } }
    func sleep(seconds: Double) async throws {
        state.withLock {
            $0.sleeps.append(seconds)
            $0.now += seconds
        }
    }
}

/// Collects what a source emits.
final class CollectingOutput: SourceOutput, @unchecked Sendable {
    private let state = Mutex<(batches: [Batch], checkpoints: [(StateValue, Bool)])>(([], []))
    var batches: [Batch] { state.withLock { $0.batches } }
    var checkpoints: [(positions: StateValue, complete: Bool)] { state.withLock { $0.checkpoints } }
    var rowCount: Int { batches.reduce(0) { $0 + $1.rowCount } }

    func send(_ batch: Batch) async throws { state.withLock { $0.batches.append(batch) } }
    func sendBlocking(_ batch: Batch) throws { state.withLock { $0.batches.append(batch) } }
    func checkpoint(positions: StateValue) async throws -> CheckpointID {
        state.withLock { $0.checkpoints.append((positions, false)) }
        return CheckpointID(1)
    }
    func checkpointBlocking(positions: StateValue) throws -> CheckpointID {
        state.withLock { $0.checkpoints.append((positions, false)) }
        return CheckpointID(1)
    }
    func completeCheckpoint(positions: StateValue) async throws -> CheckpointID {
        state.withLock { $0.checkpoints.append((positions, true)) }
        return CheckpointID(1)
    }

    func ints(_ name: String) -> [Int64] {
        batches.flatMap { batch -> [Int64] in
            guard let column = batch.column(named: name) else { return [] }
            return (0..<batch.rowCount).compactMap { if case .int(let x) = column.value(at: $0) { x } else { nil } }
        }
    }
}

/// A fixture server over `RESTFixtureAPI`, or any handler.
func fixtureServer(_ api: RESTFixtureAPI) throws -> RESTTestServer {
    let base = Mutex("")
    let server = try RESTTestServer { request in api.handle(request, baseURL: base.withLock { $0 }) }
    base.withLock { $0 = server.url }
    return server
}

/// A REST source over `server` with `configure` applied to default options.
func source(
    _ server: RESTTestServer, path: String, clock: VirtualClock = VirtualClock(), schema: Schema? = nil,
    _ configure: (inout RESTOptions) -> Void = { _ in }
) -> RESTSource {
    var rest = RESTOptions()
    rest.resource.path = path
    rest.retry.initial = 0.5
    rest.timeoutSeconds = 10
    configure(&rest)
    return RESTSource(
        name: "rest:\(path)", options: RESTSourceOptions(baseURL: server.url, rest: rest, schema: schema), clock: clock,
        random: { 0.5 })
}

/// Reads everything the source emits in one run.
func read(_ source: RESTSource, resumeFrom: StateValue? = nil) async throws -> CollectingOutput {
    let output = CollectingOutput()
    try await source.run(into: output, resumeFrom: resumeFrom)
    return output
}
