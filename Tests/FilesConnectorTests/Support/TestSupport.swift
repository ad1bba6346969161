import Flow
import Foundation
import Synchronization

@testable import FilesConnector

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "dpone-files-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func write(_ name: String, _ text: String) throws -> String {
        let p = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    func read(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: file(name))), as: UTF8.self)
    }

    func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Collects what a source emits, standing in for the graph runner.
final class CollectingOutput: SourceOutput {
    private let state = Mutex<(batches: [Batch], checkpoints: [StateValue])>(([], []))

    var batches: [Batch] { state.withLock { $0.batches } }
    var checkpoints: [StateValue] { state.withLock { $0.checkpoints } }
    var rows: [[Value]] { batches.flatMap { b in (0..<b.rowCount).map { b.row($0) } } }

    func send(_ batch: Batch) async throws { state.withLock { $0.batches.append(batch) } }
    func sendBlocking(_ batch: Batch) throws { state.withLock { $0.batches.append(batch) } }

    @discardableResult
    func checkpoint(positions: StateValue) async throws -> CheckpointID { try checkpointBlocking(positions: positions) }

    @discardableResult
    func checkpointBlocking(positions: StateValue) throws -> CheckpointID {
        state.withLock {
            $0.checkpoints.append(positions)
            return CheckpointID(UInt64($0.checkpoints.count))
        }
    }
}
