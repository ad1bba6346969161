import Foundation
import Synchronization

/// A bounded byte channel from async writers to one blocking reader (libcurl's read callback on a
/// client thread): the bridge that lets an async sink stream an INSERT body as batches arrive.
///
/// - `write` appends a chunk while fewer than `capacity` bytes are buffered, else suspends (without
///   blocking a thread) until the reader has drained below `capacity`. Memory is bounded by
///   `capacity` plus one chunk. One writer at a time.
/// - `read` blocks its (dedicated) thread until bytes, the end, or an abort arrive.
/// - `finish()` ends the body: `read` returns 0 once the buffer is drained.
/// - `abort(_:)` (writer side) makes `read` throw, which aborts the upload.
/// - `close(_:)` (reader side, when the request is over) makes every later or waiting `write` throw.
final class InsertBodyPipe: Sendable {
    private struct State: ~Copyable {
        var chunks: [[UInt8]] = []
        var head = 0
        var offset = 0
        var buffered = 0
        var finished = false
        var aborted: (any Error)?
        var closed: (any Error)?
        var waiter: CheckedContinuation<Void, any Error>?
    }

    let capacity: Int
    private let state = Mutex(State())
    private let dataReady = DispatchSemaphore(value: 0)

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    private enum Append {
        case appended, full
        case failed(any Error)
    }

    /// Appends `bytes` once there is room; throws the reader's `close` error, the `abort` error, or
    /// `CancellationError` when the task is cancelled while waiting.
    func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        while true {
            let result: Append = state.withLock { s in
                if let error = s.closed ?? s.aborted { return .failed(error) }
                if s.finished {
                    return .failed(ClickHouseError(kind: .client, message: "write after finish() on an insert stream"))
                }
                guard s.buffered < capacity else { return .full }
                s.chunks.append(bytes)
                s.buffered += bytes.count
                return .appended
            }
            switch result {
            case .appended:
                dataReady.signal()
                return
            case .failed(let error):
                throw error
            case .full:
                try await waitForRoom()
            }
        }
    }

    private func waitForRoom() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate: Result<Void, any Error>? = state.withLock { s in
                    if let error = s.closed ?? s.aborted { return .failure(error) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if s.buffered < capacity { return .success(()) }
                    if s.waiter != nil {
                        return .failure(
                            ClickHouseError(kind: .client, message: "concurrent writes to one insert stream"))
                    }
                    s.waiter = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Ends the body after the bytes written so far.
    func finish() {
        state.withLock { $0.finished = true }
        dataReady.signal()
    }

    /// Makes the reader throw `error` (the upload is aborted) and later writes fail with it.
    func abort(_ error: any Error) {
        let waiter = state.withLock { s in
            if s.aborted == nil { s.aborted = error }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(throwing: error)
        dataReady.signal()
    }

    /// Reader side: the request is over; waiting and later writes throw `error`.
    func close(_ error: any Error) {
        let waiter = state.withLock { s in
            if s.closed == nil { s.closed = error }
            s.chunks = []
            s.head = 0
            s.buffered = 0
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(throwing: error)
    }

    private enum Read {
        case bytes(Int, CheckedContinuation<Void, any Error>?)
        case end, wait
        case failed(any Error)
    }

    /// Blocks until it can copy bytes into `buffer` (returns their count), the body ended (0), or the
    /// writer aborted (throws its error).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            let result: Read = state.withLock { s in
                if let error = s.aborted { return .failed(error) }
                guard s.head < s.chunks.count else { return s.finished ? .end : .wait }
                let offset = s.offset
                let n = s.chunks[s.head].withUnsafeBytes { chunk in
                    let n = min(chunk.count - offset, buffer.count)
                    buffer.baseAddress!.copyMemory(from: chunk.baseAddress! + offset, byteCount: n)
                    return n
                }
                s.offset += n
                if s.offset == s.chunks[s.head].count {
                    s.chunks[s.head] = []
                    s.head += 1
                    s.offset = 0
                    if s.head == s.chunks.count {
                        s.chunks.removeAll(keepingCapacity: true)
                        s.head = 0
                    } else if s.head >= 64 {
                        s.chunks.removeFirst(s.head)
                        s.head = 0
                    }
                }
                s.buffered -= n
                var waiter: CheckedContinuation<Void, any Error>?
                if s.buffered < capacity {
                    waiter = s.waiter
                    s.waiter = nil
                }
                return .bytes(n, waiter)
            }
            switch result {
            case .bytes(let n, let waiter):
                waiter?.resume()
                return n
            case .end:
                return 0
            case .failed(let error):
                throw error
            case .wait:
                dataReady.wait()
            }
        }
    }
}
