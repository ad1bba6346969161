import Synchronization
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

@Suite struct DedicatedThreadTests {
    @Test func everyJobRunsOnTheSameDedicatedThreadNotTheCallers() async throws {
        let thread = DedicatedThread(name: "dpone-test-io")
        defer { thread.stop() }
        let first = try await thread.run { pthread_self() }
        let second = try await thread.run { pthread_self() }
        #expect(pthread_equal(first, second) != 0, "one thread serves every job")
        #expect(pthread_equal(first, callerThread()) == 0, "not the awaiting task's thread")
    }

    @Test func jobsRunInSubmissionOrder() async throws {
        let thread = DedicatedThread(name: "dpone-test-order")
        defer { thread.stop() }
        let log = EventLog()
        for i in 0..<50 { thread.submit { log.record("\(i)") } }
        try await thread.run {}
        #expect(log.all == (0..<50).map(String.init))
    }

    @Test func asATaskExecutorItRunsTheTaskOnItsThread() async throws {
        let thread = DedicatedThread(name: "dpone-test-executor")
        defer { thread.stop() }
        let own = try await thread.run { pthread_self() }
        let underPreference = await withTaskExecutorPreference(thread) { callerThread() }
        #expect(pthread_equal(own, underPreference) != 0)
    }

    /// The idle job runs on the thread itself, repeatedly while nothing is submitted, never during a
    /// submitted job, and no more once cleared.
    @Test func theIdleJobRunsOnTheThreadBetweenJobsUntilCleared() async throws {
        let thread = DedicatedThread(name: "dpone-test-idle")
        defer { thread.stop() }
        let own = try await thread.run { pthread_self() }
        let runs = Atomic<Int>(0)
        let inJob = Atomic<Bool>(false)
        let overlapped = Atomic<Bool>(false)
        let offThread = Atomic<Bool>(false)
        thread.setIdleJob(every: .milliseconds(20)) {
            if inJob.load(ordering: .relaxed) { overlapped.store(true, ordering: .relaxed) }
            if pthread_equal(pthread_self(), own) == 0 { offThread.store(true, ordering: .relaxed) }
            runs.add(1, ordering: .relaxed)
        }
        // While idle it keeps running (the deadline is generous: the suite shares 2 cores).
        let deadline = ContinuousClock.now + .seconds(20)
        while runs.load(ordering: .relaxed) < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let idleRuns = runs.load(ordering: .relaxed)
        #expect(idleRuns >= 3)

        // A job longer than the interval: the idle job waits for it.
        try await thread.run {
            inJob.store(true, ordering: .relaxed)
            Thread.sleep(forTimeInterval: 0.1)
            inJob.store(false, ordering: .relaxed)
        }
        let ranDuringAJob = overlapped.load(ordering: .relaxed)
        let ranElsewhere = offThread.load(ordering: .relaxed)
        #expect(!ranDuringAJob)
        #expect(!ranElsewhere)

        // Cleared: a job queued after the clearing runs once it took effect; no run follows.
        thread.setIdleJob(every: .zero, nil)
        try await thread.run {}
        let cleared = runs.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(200))
        let later = runs.load(ordering: .relaxed)
        #expect(later == cleared)
    }

    @Test func aDetachedJobSeesCancellation() async throws {
        let started = DispatchSemaphore(value: 0)
        let task = Task {
            try await DedicatedThread.runDetached(name: "dpone-test-detached") { flag in
                started.signal()
                while !flag.isCancelled { usleep(1000) }
                try flag.check("the job")
            }
        }
        await withCheckedContinuation { c in DispatchQueue.global().async { started.wait(); c.resume() } }
        task.cancel()
        await #expect(throws: DponeError.self) { try await task.value }
    }
}

/// A synchronous helper: the calling thread's id.
func callerThread() -> pthread_t { pthread_self() }

extension FileStateStoreTests {
    /// State and lock files are owner-only, and a symlink planted in a shared state directory
    /// redirects no write: the state replaces the link (the victim is untouched), the lock refuses it.
    @Test func stateAndLockFilesAreOwnerOnlyAndNeverFollowALink() async throws {
        let dir = temporaryDirectory() + "/state"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let victim = temporaryDirectory() + "/victim"
        try "keep me".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/orders.json", withDestinationPath: victim)
        let store = FileStateStore(directory: dir)
        try await store.commit(
            PipelineState(
                pipeline: "orders", checkpoint: CheckpointID(1), source: .int(1), loadID: "l", runID: "r",
                committedAt: "2026-12-07T00:00:00Z"))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/orders.json")
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        do {
            let lock = try PipelineLock(directory: dir, pipeline: "fresh")
            #expect((try FileManager.default.attributesOfItem(atPath: lock.path)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
        try FileManager.default.createSymbolicLink(atPath: dir + "/linked.lock", withDestinationPath: victim)
        #expect(throws: (any Error).self) { _ = try PipelineLock(directory: dir, pipeline: "linked") }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
    }
}
