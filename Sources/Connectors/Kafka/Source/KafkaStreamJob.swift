import CKafka
import Flow
import Foundation
import Logging
import Synchronization

/// The continuous (`dpone stream`) read loop of a Kafka source: a consumer-group member
/// (cooperative-sticky by default) that decodes into batches and takes a checkpoint every
/// `checkpointInterval` seconds when it read something.
///
/// Offsets: the group's committed offsets are the resume point, and they are committed only after
/// the checkpoint covering them is durable (`acknowledge`). A partition starts at the furthest of its
/// committed offset and what dpone's state (or this process) knows was read: a process killed
/// between its state commit and the group commit resumes after what it published. When the group takes partitions away,
/// the in-flight checkpoint is emitted and awaited and the revoked partitions' offsets committed
/// before librdkafka releases them, so the next owner starts exactly after what this process
/// published: several `dpone stream` processes share a topic without loss or duplicate application.
/// A partition lost with an expired session (a broker away) and given back to this process resumes
/// at the furthest of its committed offset and what this process read (`resumeOffsets`).
/// `@unchecked`: it owns the librdkafka consumer; its state is touched on the consumer thread only
/// (librdkafka runs the rebalance callback there too), and what other tasks set goes through a Mutex.
final class KafkaStreamJob: KafkaRebalanceHandler, @unchecked Sendable {
    let options: KafkaSourceOptions
    let mode: ContinuousMode
    let output: any SourceOutput
    let cancel: CancellationFlag
    let valueSchema: Schema
    let outputSchema: Schema
    let logger = Logger(label: "dpone.kafka.stream")

    // Owned by the consumer thread.
    var consumer: KafkaConsumerHandle?
    private var positions: [Int32: Int64] = [:]
    private var dirty = false
    private var lastCheckpoint = Date()
    private var lastEmitted: CheckpointID?
    private var lastLagSample = Date.distantPast
    private var intake: KafkaMessageIntake

    private var owned = Set<Int32>()
    /// Read positions of partitions lost with an expired session (their rows may still be in flight
    /// to this process's next checkpoint): where they resume if the group gives them back.
    private var lostPositions: [Int32: Int64] = [:]
    /// The positions in dpone's state when the run started: published and durable, though the
    /// group's commit of them may never have happened (a kill between the two).
    private let stored: [Int32: Int64]
    /// The durable positions committed to the group so far (consumer thread), and the partitions
    /// that commit covered.
    private var committedDurable: CheckpointID?
    private var committedPartitions = Set<Int32>()
    /// When a background commit last failed: retried at most once a second (each try may wait 2 s
    /// for a coordinator busy with a rebalance, and the loop must keep polling meanwhile).
    private var lastCommitFailure = Date.distantPast
    /// librdkafka holds this unretained as its opaque pointer: it lives as long as the job.
    private let rebalanceBox = KafkaRebalanceBox()

    /// The newest acknowledged (durable) checkpoint and its positions, set by `acknowledged` from
    /// the coordinator; the consumer thread commits them (only for partitions it still owns, so a
    /// late commit never rewinds a partition another member took over).
    private let durable = Mutex<(id: CheckpointID, positions: StateValue)?>(nil)
    private let durableChanged = DispatchSemaphore(value: 0)

    init(
        options: KafkaSourceOptions, mode: ContinuousMode, output: any SourceOutput, cancel: CancellationFlag,
        valueSchema: Schema, outputSchema: Schema, reader: KafkaRowReader, stored: [Int32: Int64] = [:]
    ) {
        self.stored = stored
        self.options = options
        self.mode = mode
        self.output = output
        self.cancel = cancel
        self.valueSchema = valueSchema
        self.outputSchema = outputSchema
        intake = KafkaMessageIntake(options: options, valueSchema: valueSchema, outputSchema: outputSchema, reader: reader)
    }

    /// Called by the source when checkpoint `id` is durable with `positions`.
    func acknowledged(_ id: CheckpointID, positions: StateValue) {
        durable.withLock { if $0.map({ $0.id < id }) ?? true { $0 = (id, positions) } }
        durableChanged.signal()
    }

    /// Commits the newest durable positions of owned partitions (consumer thread). Skipped when
    /// that checkpoint was committed already for every owned partition. Returns whether the owned
    /// partitions' durable offsets are committed now.
    @discardableResult
    private func commitDurable(sync: Bool) throws -> Bool {
        guard let (id, value) = durable.withLock({ $0 }) else { return true }
        if committedDurable == id, committedPartitions.isSuperset(of: owned) { return true }
        guard let stored = try KafkaPositions(value, topic: options.topic) else { return true }
        let offsets = stored.partitionOffsets.filter { owned.contains($0.partition) }
        guard let consumer else { return false }
        if !sync, Date().timeIntervalSince(lastCommitFailure) < 1 { return false }
        let (ok, error) = consumer.commit(offsets, timeoutMs: sync ? 10_000 : 2_000)
        guard ok else {
            lastCommitFailure = Date()
            // Retried with the next durable checkpoint (or on revocation); until then the next
            // owner of a partition would re-read since the previous commit: never a loss.
            logger.warning("offset commit failed", metadata: ["error": "\(error ?? "")"])
            return false
        }
        if committedDurable != id { committedPartitions = [] }
        committedDurable = id
        committedPartitions.formUnion(owned)
        return true
    }

    /// The stop's final commit, bounded by `seconds`. A commit sent while the group rebalances
    /// (another member joining or leaving at the same moment) is refused (`REBALANCE_IN_PROGRESS`,
    /// a stale generation) until this member has rejoined, which happens inside poll: so poll
    /// (serving the rebalance; messages fetched now are dropped, they lie beyond the durable
    /// offsets) and try again. If the group declared the assignment lost meanwhile and hands the
    /// partitions back, their durable offsets are committed then, unless the group's committed
    /// offset is already at or past them (another member moved on: never rewind). Giving up loses
    /// nothing: the next owner re-reads since the last commit.
    private func commitDurableWhileRejoining(seconds: Double) throws {
        guard let consumer, let (id, value) = durable.withLock({ $0 }),
            let stored = try KafkaPositions(value, topic: options.topic)
        else { return }
        // The revocation inside close must not commit these offsets again: for a partition the
        // group is already past, that would rewind it.
        defer {
            committedDurable = id
            committedPartitions = owned
        }
        let deadline = Date().addingTimeInterval(seconds)
        var pending = Set(stored.partitionOffsets.map(\.partition)).intersection(owned)
        while !pending.isEmpty {
            let ownedNow = pending.intersection(owned)
            // The group's committed offsets first (a failed lookup is retried like a refused commit).
            if !ownedNow.isEmpty, let current = try? consumer.committed(
                stored.partitionOffsets.filter { ownedNow.contains($0.partition) }, timeoutMs: 2_000)
            {
                let group = Dictionary(current.map { ($0.partition, $0.offset) }, uniquingKeysWith: max)
                let offsets = stored.partitionOffsets.filter { mine in
                    ownedNow.contains(mine.partition) && !(group[mine.partition].map { $0 >= 0 && $0 >= mine.offset } ?? false)
                }
                pending.subtract(ownedNow.subtracting(offsets.map(\.partition)))
                let (ok, error) = consumer.commit(offsets, timeoutMs: 5_000)
                if ok {
                    pending.subtract(offsets.map(\.partition))
                    continue
                }
                if Date() >= deadline {
                    logger.warning("offset commit failed", metadata: ["error": "\(error ?? "")"])
                }
            }
            guard Date() < deadline else {
                if !pending.isEmpty {
                    logger.warning(
                        "stopping with uncommitted durable offsets: their next owner re-reads them",
                        metadata: ["partitions": "\(pending.sorted())"])
                }
                return
            }
            let until = Date().addingTimeInterval(0.3)
            while Date() < until {
                if let message = consumer.poll(timeoutMs: 100) { rd_kafka_message_destroy(message) }
            }
        }
    }

    func run() throws {
        let box = rebalanceBox
        box.handler = self
        var properties = options.consumerProperties
        properties.setDefault("partition.assignment.strategy", "cooperative-sticky")
        properties["auto.offset.reset"] = options.start == .latest ? "latest" : "earliest"
        properties["enable.partition.eof"] = "false"
        let consumer = try KafkaConsumerHandle.makeGroupMember(properties: properties, box: box)
        consumer.awaitingFirstCooperativeAssignment = properties["partition.assignment.strategy"] == "cooperative-sticky"
        self.consumer = consumer
        defer { intake.quarantine?.close() }
        try consumer.subscribe(options.topic)
        logger.info("joined the group", metadata: ["group": "\(options.groupID)", "topic": "\(options.topic)"])
        while !mode.stop.isStopped {
            try cancel.check("streaming kafka topic \(options.topic)")
            if let message = consumer.poll(timeoutMs: 100) {
                defer { rd_kafka_message_destroy(message) }
                try handle(message)
            }
            if dirty && Date().timeIntervalSince(lastCheckpoint) >= mode.checkpointInterval { try checkpoint() }
            try commitDurable(sync: false)
            if intake.isFull { try emit() }
            recordLag()
        }
        // Stop: publish what was read, wait until it is durable, then leave the group (the
        // revocation commits the final offsets).
        // Bounded: a stop request must end the process within the supervisor's patience.
        if dirty { try checkpoint() }
        try awaitDurable(seconds: 20)
        try commitDurableWhileRejoining(seconds: 15)
        consumer.close()
        self.consumer = nil
    }

    private func handle(_ message: UnsafeMutablePointer<rd_kafka_message_t>) throws {
        let m = message.pointee
        let topic = options.topic
        guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return }
            let text = kafkaErrorText(m.err)
            // librdkafka retries transport errors itself; anything else stops the run.
            if m.err == RD_KAFKA_RESP_ERR__TRANSPORT || m.err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN {
                logger.warning("kafka transport", metadata: ["error": "\(text)"])
                return
            }
            throw DponeError(.source, "\(topic): \(text)", context: ["topic": topic, "partition": String(m.partition)])
        }
        let p = m.partition
        try intake.take(message)
        positions[p] = m.offset + 1
        dirty = true
    }

    /// `dpone_consumer_lag{topic,partition}`: messages in an owned partition beyond what this
    /// worker consumed (from the watermark of the last fetch; at most once a second).
    private func recordLag() {
        guard let consumer, Date().timeIntervalSince(lastLagSample) >= 1 else { return }
        lastLagSample = Date()
        for p in owned {
            guard let high = consumer.cachedHighWatermark(topic: options.topic, partition: p), let consumed = positions[p] else { continue }
            MetricsRegistry.shared.set(
                "dpone_consumer_lag", Double(max(0, high - consumed)), labels: [("topic", options.topic), ("partition", String(p))],
                help: "Messages of an owned partition beyond what this worker consumed.")
        }
    }

    private func emit() throws {
        if let batch = intake.batch() { try output.sendBlocking(batch) }
    }

    private func checkpoint() throws {
        try emit()
        try intake.syncQuarantine()
        let state = KafkaPositions(topic: options.topic, offsets: positions)
        lastEmitted = try output.checkpointBlocking(positions: state.stateValue)
        dirty = false
        lastCheckpoint = Date()
    }

    /// Waits until the last emitted checkpoint is durable (the run failing cancels the wait), at
    /// most `seconds`: a sink that cannot publish must not keep a stop request or a rebalance
    /// waiting forever. Nothing is lost on timeout: its offsets are simply not committed.
    private func awaitDurable(seconds: Double = 120) throws {
        guard let target = lastEmitted else { return }
        let deadline = Date().addingTimeInterval(seconds)
        while durable.withLock({ $0.map { $0.id < target } ?? true }) {
            try cancel.check("waiting for checkpoint \(target) of \(options.topic) to be durable")
            guard Date() < deadline else {
                throw DponeError(
                    .checkpoint, "checkpoint \(target) of \(options.topic) did not become durable within \(Int(seconds)) s",
                    hint: "the sink is not publishing; its offsets stay uncommitted and the next run re-reads them",
                    context: ["topic": options.topic])
            }
            _ = durableChanged.wait(timeout: .now() + .milliseconds(100))
        }
    }

    // MARK: KafkaRebalanceHandler (on the consumer thread, inside poll)

    func resumeOffsets(_ partitions: [Int32]) -> [Int32: Int64] {
        let durableOffsets = (try? durable.withLock({ $0 }).flatMap { try KafkaPositions($0.positions, topic: options.topic) })??.offsets ?? [:]
        var resume: [Int32: Int64] = [:]
        for p in partitions {
            if let offset = [lostPositions[p], durableOffsets[p], stored[p]].compactMap({ $0 }).max() { resume[p] = offset }
        }
        return resume
    }

    func assigned(_ partitions: [Int32]) {
        for p in partitions { lostPositions[p] = nil }
        owned.formUnion(partitions)
        consumer?.awaitingFirstCooperativeAssignment = false
        logger.notice("partitions assigned", metadata: ["topic": "\(options.topic)", "partitions": "\(partitions)"])
    }

    func revoking(_ partitions: [Int32], lost: Bool) {
        logger.notice("partitions revoked", metadata: ["topic": "\(options.topic)", "partitions": "\(partitions)", "lost": "\(lost)"])
        if lost {
            // The session expired and another member owns them already: committing would fail
            // (stale generation) and waiting only delays rejoining. What was read from them is
            // published with the next checkpoint; another new owner re-reads it (at-least-once),
            // while this process, given them back, resumes after it (`resumeOffsets`).
            for p in partitions {
                if let read = positions[p] { lostPositions[p] = read }
                positions[p] = nil
                owned.remove(p)
                MetricsRegistry.shared.remove("dpone_consumer_lag", labels: [("topic", options.topic), ("partition", String(p))])
            }
            return
        }
        do {
            if dirty { try checkpoint() }
            try awaitDurable(seconds: mode.stop.isStopped ? 20 : 120)
            try commitDurable(sync: true)
        } catch {
            // The checkpoint did not become durable (the run is failing): nothing is committed, so
            // the next owner re-reads from the last durable offsets.
            logger.warning("revocation without a durable checkpoint", metadata: ["error": "\(error)"])
            cancel.cancel()
        }
        for p in partitions {
            positions[p] = nil
            owned.remove(p)
            MetricsRegistry.shared.remove("dpone_consumer_lag", labels: [("topic", options.topic), ("partition", String(p))])
        }
    }
}
