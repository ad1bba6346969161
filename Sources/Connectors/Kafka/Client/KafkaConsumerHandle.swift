import CKafka
import Flow
import Foundation

/// One topic partition and an offset (or a timestamp, for offsets-for-times).
public struct KafkaPartitionOffset: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// A librdkafka consumer. Not thread-safe and blocking: every call runs on the owner's dedicated
/// thread (never on Swift's cooperative pool). `close()` leaves the group and frees the handle.
final class KafkaConsumerHandle: @unchecked Sendable {
    let rk: OpaquePointer
    private var closed = false

    /// - Parameter properties: must hold `bootstrap.servers` and `group.id`.
    init(properties: KafkaProperties) throws {
        let conf = try properties.makeConf()
        var errbuf = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errbuf, errbuf.count) else {
            rd_kafka_conf_destroy(conf)
            throw DponeError(.source, "cannot create a kafka consumer: \(kafkaBufferText(errbuf))")
        }
        self.rk = rk
        rd_kafka_poll_set_consumer(rk)
    }

    /// Takes ownership of a consumer created elsewhere (a group member with a rebalance callback).
    init(adopting rk: OpaquePointer) {
        self.rk = rk
        rd_kafka_poll_set_consumer(rk)
    }

    /// A cooperative-sticky group member that never received an assignment: librdkafka before
    /// 2.3.0 aborts destroying it (`rd_kafka_sticky_assignor_state_destroy: Assertion
    /// 'assignor_state' failed`, librdkafka#4312). Set by the group member until its first assignment.
    var awaitingFirstCooperativeAssignment = false

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        _ = rd_kafka_consumer_close(rk)
        if awaitingFirstCooperativeAssignment && rd_kafka_version() < 0x0203_0000 {
            // The group is left; the handle's memory goes with the process (a stopping stream)
            // rather than abort it.
            return
        }
        rd_kafka_destroy(rk)
    }

    /// The brokers of the cluster (from a metadata request for no topic).
    func brokers(timeoutMs: Int32) throws -> [String] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(rk, 0, nil, &metadata, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw DponeError(.source, "kafka metadata: \(kafkaErrorText(err))")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        return (0..<Int(metadata.pointee.broker_cnt)).map {
            let b = metadata.pointee.brokers[$0]
            return "\(String(cString: b.host)):\(b.port)"
        }
    }

    /// The partition ids of `topic`; throws when the topic does not exist.
    func partitions(of topic: String, timeoutMs: Int32) throws -> [Int32] {
        guard let rkt = rd_kafka_topic_new(rk, topic, nil) else {
            throw DponeError(.source, "cannot open kafka topic \(topic)", context: ["topic": topic])
        }
        defer { rd_kafka_topic_destroy(rkt) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(rk, 0, rkt, &metadata, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw DponeError(.source, "kafka metadata for topic \(topic): \(kafkaErrorText(err))", context: ["topic": topic])
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt > 0 else {
            throw DponeError(.source, "kafka topic \(topic) does not exist", context: ["topic": topic])
        }
        let t = metadata.pointee.topics[0]
        if t.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw DponeError(
                .source, "kafka topic \(topic): \(kafkaErrorText(t.err))",
                hint: t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? "create the topic, or check its name" : nil,
                context: ["topic": topic])
        }
        return (0..<Int(t.partition_cnt)).map { t.partitions[$0].id }.sorted()
    }

    /// (low, high) watermarks: the first offset kept and the offset the next message will get.
    func watermarks(topic: String, partition: Int32, timeoutMs: Int32) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw DponeError(
                .source, "kafka watermarks of \(topic)[\(partition)]: \(kafkaErrorText(err))",
                context: ["topic": topic, "partition": String(partition)])
        }
        return (low, high)
    }

    /// The high watermark librdkafka last saw in a fetch response for the partition (no request;
    /// nil until the partition was fetched).
    func cachedHighWatermark(topic: String, partition: Int32) -> Int64? {
        var low: Int64 = 0
        var high: Int64 = 0
        guard rd_kafka_get_watermark_offsets(rk, topic, partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0
        else { return nil }
        return high
    }

    /// Runs `call` on a partition list built from `entries` and returns the offsets it leaves there.
    private func withList(
        _ entries: [KafkaPartitionOffset], _ call: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> rd_kafka_resp_err_t
    ) throws -> [KafkaPartitionOffset] {
        guard let list = rd_kafka_topic_partition_list_new(Int32(entries.count)) else {
            throw DponeError(.internal, "rd_kafka_topic_partition_list_new failed")
        }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for e in entries { rd_kafka_topic_partition_list_add(list, e.topic, e.partition).pointee.offset = e.offset }
        let err = call(list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw DponeError(.source, kafkaErrorText(err)) }
        return try (0..<Int(list.pointee.cnt)).map { i in
            let p = list.pointee.elems[i]
            let topic = String(validatingCString: p.topic) ?? ""
            if p.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw DponeError(
                    .source, "kafka \(topic)[\(p.partition)]: \(kafkaErrorText(p.err))",
                    context: ["topic": topic, "partition": String(p.partition)])
            }
            return KafkaPartitionOffset(topic: topic, partition: p.partition, offset: p.offset)
        }
    }

    /// The group's committed offsets (`RD_KAFKA_OFFSET_INVALID`, -1001, where none is committed).
    func committed(_ partitions: [KafkaPartitionOffset], timeoutMs: Int32) throws -> [KafkaPartitionOffset] {
        try withList(partitions) { rd_kafka_committed(rk, $0, timeoutMs) }
    }

    /// The first offset at or after each entry's `offset` read as a timestamp in ms (-1: none).
    func offsetsForTimes(_ timestamps: [KafkaPartitionOffset], timeoutMs: Int32) throws -> [KafkaPartitionOffset] {
        try withList(timestamps) { rd_kafka_offsets_for_times(rk, $0, timeoutMs) }
    }

    func assign(_ starts: [KafkaPartitionOffset]) throws {
        _ = try withList(starts) { rd_kafka_assign(rk, $0) }
    }

    /// Commits `offsets` (the next offsets to read) to the group, synchronously.
    func commit(_ offsets: [KafkaPartitionOffset]) throws {
        guard !offsets.isEmpty else { return }
        _ = try withList(offsets) { rd_kafka_commit(rk, $0, 0) }
    }

    /// The next message or event within `timeoutMs`; the caller must `rd_kafka_message_destroy` it.
    func poll(timeoutMs: Int32) -> UnsafeMutablePointer<rd_kafka_message_t>? {
        rd_kafka_consumer_poll(rk, timeoutMs)
    }
}
