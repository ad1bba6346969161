import CKafka
import Formats
import Flow
import Foundation

/// One partition's bounded window: read from `start` until the consumed position reaches `end`.
struct KafkaWindow: Sendable, Equatable {
    var partition: Int32
    var start: Int64
    var end: Int64
}

/// The read loop of one bounded run, on the source's dedicated thread: windows are planned from
/// the watermarks taken at start, messages are decoded straight into builders, and the run ends
/// with one checkpoint whose positions are the consumed offsets.
/// `@unchecked`: it carries the librdkafka consumer handle, used on the source's dedicated thread only.
struct KafkaReadJob: @unchecked Sendable {
    let options: KafkaSourceOptions
    let consumer: KafkaConsumerHandle
    let valueSchema: Schema
    let outputSchema: Schema
    var reader: KafkaRowReader

    /// Start and end per partition. Stored positions win over the group's committed offsets; a
    /// stored position below the earliest retained offset is an error (those messages are gone).
    func plan(stored: KafkaPositions?) throws -> [KafkaWindow] {
        let topic = options.topic
        let timeout = options.requestTimeoutMs
        let partitions = try consumer.partitions(of: topic, timeoutMs: timeout)
        var marks: [Int32: (low: Int64, high: Int64)] = [:]
        for p in partitions { marks[p] = try consumer.watermarks(topic: topic, partition: p, timeoutMs: timeout) }
        func byTime(_ ms: Int64) throws -> [Int32: Int64] {
            let found = try consumer.offsetsForTimes(
                partitions.map { KafkaPartitionOffset(topic: topic, partition: $0, offset: ms) }, timeoutMs: timeout)
            return Dictionary(uniqueKeysWithValues: found.map { ($0.partition, $0.offset < 0 ? marks[$0.partition]!.high : $0.offset) })
        }
        var starts: [Int32: Int64] = [:]
        var ends: [Int32: Int64] = marks.mapValues(\.high)
        if case .timeWindow(let from, let to) = options.readMode {
            starts = try byTime(from)
            if let to { ends = try byTime(to) }
        } else {
            var committed: [Int32: Int64] = [:]
            if case .committed = options.start {
                let found = try consumer.committed(
                    partitions.map { KafkaPartitionOffset(topic: topic, partition: $0, offset: -1001) }, timeoutMs: timeout)
                for c in found where c.offset >= 0 { committed[c.partition] = c.offset }
            }
            let timed: [Int32: Int64]
            if case .timestamp(let ms) = options.start { timed = try byTime(ms) } else { timed = [:] }
            for p in partitions {
                if let s = stored?.offsets[p] {
                    starts[p] = s
                } else {
                    switch options.start {
                    case .committed: starts[p] = committed[p] ?? marks[p]!.low
                    case .earliest: starts[p] = marks[p]!.low
                    case .latest: starts[p] = marks[p]!.high
                    case .timestamp: starts[p] = timed[p] ?? marks[p]!.high
                    }
                }
            }
        }
        return try partitions.map { p in
            let (low, high) = marks[p]!
            let start = starts[p] ?? low
            if start < low {
                throw DponeError(
                    .source,
                    "\(topic) partition \(p): the next offset to read is \(start) but the earliest retained is \(low): \(low - start) message(s) were deleted by retention before they were read",
                    hint: "nothing was published; to accept the loss and go on, reset the state (`dpone state reset`) or set start",
                    context: ["topic": topic, "partition": String(p), "offset": String(start)])
            }
            if start > high {
                throw DponeError(
                    .source, "\(topic) partition \(p): the stored offset \(start) is past the end of the partition (\(high)): the topic was recreated?",
                    hint: "reset the state (`dpone state reset`) after checking the topic",
                    context: ["topic": topic, "partition": String(p), "offset": String(start)])
            }
            return KafkaWindow(partition: p, start: start, end: max(start, min(ends[p] ?? high, high)))
        }
    }

    mutating func run(into output: any SourceOutput, resumeFrom: StateValue?, cancel: CancellationFlag) throws {
        let topic = options.topic
        let stored = try KafkaPositions(resumeFrom, topic: topic)
        let windows = try plan(stored: stored)
        var positions = KafkaPositions(topic: topic, offsets: Dictionary(uniqueKeysWithValues: windows.map { ($0.partition, $0.start) }))
        let ends = Dictionary(uniqueKeysWithValues: windows.map { ($0.partition, $0.end) })
        var pending = Set(windows.filter { $0.start < $0.end }.map(\.partition))
        var intake = KafkaMessageIntake(options: options, valueSchema: valueSchema, outputSchema: outputSchema, reader: reader)
        defer { intake.quarantine?.close() }
        var limit = Int.max
        if case .maxRecords(let n) = options.readMode { limit = n }
        var consumed = 0

        func emit() throws {
            if let batch = intake.batch() { try output.sendBlocking(batch) }
        }

        if !pending.isEmpty {
            try consumer.assign(windows.filter { pending.contains($0.partition) }.map {
                KafkaPartitionOffset(topic: topic, partition: $0.partition, offset: $0.start)
            })
        }
        var lastProgress = Date()
        while !pending.isEmpty && consumed < limit {
            try cancel.check("reading kafka topic \(topic)")
            guard let message = consumer.poll(timeoutMs: 200) else {
                if Date().timeIntervalSince(lastProgress) > options.stallTimeoutSeconds {
                    let stuck = pending.sorted().map { "partition \($0) at \(positions.offsets[$0] ?? -1) of \(ends[$0] ?? -1)" }
                    throw DponeError(
                        .source, "\(topic): no progress for \(Int(options.stallTimeoutSeconds)) s toward the window end: \(stuck.joined(separator: ", "))",
                        hint: "check the brokers; nothing was published or committed",
                        context: ["topic": topic])
                }
                continue
            }
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            let p = m.partition
            if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                // Everything up to m.offset is consumed (control records of transactions included).
                if let end = ends[p], m.offset >= end {
                    positions.offsets[p] = max(positions.offsets[p] ?? 0, end)
                    pending.remove(p)
                }
                lastProgress = Date()
                continue
            }
            guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                let detail = m.payload.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: m.len), as: UTF8.self) } ?? ""
                throw DponeError(
                    .source, "\(topic) partition \(p): \(kafkaErrorText(m.err)) \(detail)",
                    context: ["topic": topic, "partition": String(p), "offset": String(m.offset)])
            }
            guard let end = ends[p], pending.contains(p) else { continue }
            lastProgress = Date()
            if m.offset >= end {
                positions.offsets[p] = end
                pending.remove(p)
                continue
            }
            try intake.take(message)
            consumed += 1
            positions.offsets[p] = m.offset + 1
            if m.offset + 1 >= end { pending.remove(p) }
            if intake.isFull { try emit() }
        }
        try emit()
        try intake.syncQuarantine()
        try output.checkpointBlocking(positions: positions.stateValue)
    }
}
