import Flow

/// The error thrown by `body`, as a DponeError (nil when nothing or something else was thrown).
public func dponeError(_ body: () throws -> Void) -> DponeError? {
    do {
        try body()
        return nil
    } catch let error as DponeError {
        return error
    } catch {
        return nil
    }
}

public func dponeError(_ body: () async throws -> Void) async -> DponeError? {
    do {
        try await body()
        return nil
    } catch let error as DponeError {
        return error
    } catch {
        return nil
    }
}

extension SinkOperator {
    /// Publishes checkpoint `id` with a test context (pipeline "test", positions `.null`), as a
    /// partial checkpoint unless `complete`.
    public func finalize(_ id: CheckpointID, complete: Bool = false) async throws -> SinkCommit {
        try await finalize(
            CheckpointContext(id: id, pipeline: "test", positions: .null, loadID: "test", runID: "test", isComplete: complete))
    }
}

/// Runs `body(0)` ... `body(count - 1)` at the same time and returns the errors they threw, as text
/// (empty when all succeeded): for races between independent openers of a shared object.
public func failuresOfConcurrent(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async -> [String] {
    await withTaskGroup(of: String?.self) { group in
        for i in 0..<count {
            group.addTask {
                do {
                    try await body(i)
                    return nil
                } catch {
                    return "\(error)"
                }
            }
        }
        return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
    }
}
