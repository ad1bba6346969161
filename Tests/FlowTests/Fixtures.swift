import Flow
import Foundation
import Synchronization

/// A batch of `rows` int64 values starting at `first`, padded with a string column so its byte size
/// is about `rows * (8 + 4 + padding)`.
func makeBatch(first: Int64, rows: Int, padding: Int = 0) -> Batch {
    let schema = Schema([Field("id", .int64, nullable: false), Field("pad", .string)])
    var builder = BatchBuilder(schema: schema, reservingCapacity: rows)
    let pad = String(repeating: "x", count: padding)
    for i in 0..<rows {
        builder.columns[0].append(first + Int64(i))
        builder.columns[1].append(string: pad)
    }
    return builder.finish()
}

/// An ordered log shared by test doubles, to assert the order of protocol events.
final class EventLog: Sendable {
    private let events = Mutex<[String]>([])
    func record(_ e: String) { events.withLock { $0.append(e) } }
    var all: [String] { events.withLock { $0 } }
}

/// Emits `batches` batches of `rowsPerBatch` ids and a checkpoint after every `checkpointEvery` batches
/// (and a final one), recording the positions {"last_id": n}.
struct CountingSource: SourceOperator {
    let name = "counting"
    let batches: Int
    let rowsPerBatch: Int
    var checkpointEvery: Int = .max
    var padding = 0
    let log: EventLog

    func outputSchema() async throws -> Schema { makeBatch(first: 0, rows: 0).schema }

    func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        var next = (resumeFrom?["last_id"]?.intValue ?? -1) + 1
        for b in 0..<batches {
            try await output.send(makeBatch(first: next, rows: rowsPerBatch, padding: padding))
            next += Int64(rowsPerBatch)
            if (b + 1) % checkpointEvery == 0 && b + 1 < batches {
                let id = try await output.checkpoint(positions: .object(["last_id": .int(next - 1)]))
                log.record("barrier \(id)")
            }
        }
        let id = try await output.checkpoint(positions: .object(["last_id": .int(next - 1)]))
        log.record("barrier \(id)")
    }

    /// How long each acknowledgement takes (an upstream commit).
    var acknowledgeDelay: Duration = .zero

    func acknowledge(_ checkpoint: CheckpointID) async throws {
        log.record("ack \(checkpoint)")
        if acknowledgeDelay > .zero {
            try await Task.sleep(for: acknowledgeDelay)
            log.record("ack done \(checkpoint)")
        }
    }
}

/// Collects rows; optionally slow, optionally failing its finalize.
final class CollectingSink: SinkOperator, Sendable {
    let name: String
    let log: EventLog
    let delay: Duration
    let failFinalize: Bool
    private let staged = Mutex<[Int64]>([])
    private let published = Mutex<[Int64]>([])

    init(name: String = "collect", log: EventLog, delay: Duration = .zero, failFinalize: Bool = false) {
        self.name = name
        self.log = log
        self.delay = delay
        self.failFinalize = failFinalize
    }

    var publishedIDs: [Int64] { published.withLock { $0 } }

    func open(schema: Schema) async throws {}

    func write(_ batch: Batch) async throws {
        if delay > .zero { try await Task.sleep(for: delay) }
        guard case .int64(let ids) = batch.columns[0].values else { return }
        staged.withLock { $0.append(contentsOf: ids) }
    }

    func finalize(_ context: CheckpointContext) async throws -> SinkCommit {
        let checkpoint = context.id
        if failFinalize {
            log.record("finalize-failed \(checkpoint)")
            throw DponeError(.sink, "finalize failed on purpose")
        }
        let rows = staged.withLock { s in defer { s = [] }; return s }
        published.withLock { $0.append(contentsOf: rows) }
        log.record("finalize \(name) \(checkpoint)")
        return SinkCommit(inserted: rows.count)
    }

    func abort() async { staged.withLock { $0 = [] } }
}

/// A state store that records commits in the event log and can fail.
final class RecordingStateStore: StateStore, Sendable {
    let log: EventLog
    private let states = Mutex<[String: PipelineState]>([:])
    let failCommit: Bool

    init(log: EventLog, failCommit: Bool = false, initial: PipelineState? = nil) {
        self.log = log
        self.failCommit = failCommit
        if let initial { states.withLock { $0[initial.pipeline] = initial } }
    }

    func location(pipeline: String) -> String { "memory:\(pipeline)" }
    func load(pipeline: String) async throws -> PipelineState? { states.withLock { $0[pipeline] } }
    func commit(_ state: PipelineState) async throws {
        if failCommit { throw DponeError(.state, "disk full on purpose") }
        states.withLock { $0[state.pipeline] = state }
        log.record("state \(state.checkpoint)")
    }
    func reset(pipeline: String) async throws { _ = states.withLock { $0.removeValue(forKey: pipeline) } }
}

func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "dpone-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
