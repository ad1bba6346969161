import CKafka
import Flow
import Foundation
import Synchronization

/// What a consumer-group rebalance asks of the stream job. Called on the polling thread (inside
/// `rd_kafka_consumer_poll`), where the job may block: it finishes the in-flight checkpoint before
/// partitions are released.
protocol KafkaRebalanceHandler: AnyObject, Sendable {
    /// Where this process knows it has read `partitions` up to already (published, or in flight to
    /// be), before they are assigned: a partition this member lost and gets back resumes there when
    /// the group's committed offset is behind (a commit failed while a broker was away).
    func resumeOffsets(_ partitions: [Int32]) -> [Int32: Int64]
    func assigned(_ partitions: [Int32])
    /// `lost`: the group already gave them away (this member's session expired): nothing can be
    /// committed for them any more.
    func revoking(_ partitions: [Int32], lost: Bool)
}

/// Boxes the handler for librdkafka's opaque pointer.
final class KafkaRebalanceBox: @unchecked Sendable {
    weak var handler: (any KafkaRebalanceHandler)?
    /// Incremental (cooperative-sticky) assignment, decided from the configured strategy once:
    /// asking librdkafka (`rd_kafka_rebalance_protocol`) inside the callback is a round trip to its
    /// main thread that can hang during close (librdkafka #4041).
    var cooperative = false
}

extension KafkaConsumerHandle {
    /// Joins the group on `topic` (cooperative-sticky assignment when the properties ask for it);
    /// `box.handler` hears of assignments and revocations. Must be called before any poll.
    static func makeGroupMember(properties: KafkaProperties, box: KafkaRebalanceBox) throws -> KafkaConsumerHandle {
        let conf = try properties.makeConf()
        box.cooperative = (properties["partition.assignment.strategy"] ?? "").contains("cooperative-sticky")
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(box).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
            guard let rk, let partitions, let opaque else { return }
            let box = Unmanaged<KafkaRebalanceBox>.fromOpaque(opaque).takeUnretainedValue()
            let ids = (0..<Int(partitions.pointee.cnt)).map { partitions.pointee.elems[$0].partition }
            let cooperative = box.cooperative
            if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
                if let resume = box.handler?.resumeOffsets(ids), !resume.isEmpty {
                    startAtTheFurthest(rk, partitions, resume)
                }
                if cooperative {
                    _ = rd_kafka_incremental_assign(rk, partitions).map { rd_kafka_error_destroy($0) }
                } else {
                    rd_kafka_assign(rk, partitions)
                }
                box.handler?.assigned(ids)
            } else {
                box.handler?.revoking(ids, lost: rd_kafka_assignment_lost(rk) != 0)
                if cooperative {
                    _ = rd_kafka_incremental_unassign(rk, partitions).map { rd_kafka_error_destroy($0) }
                } else {
                    rd_kafka_assign(rk, nil)
                }
            }
        }
        var errbuf = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errbuf, errbuf.count) else {
            rd_kafka_conf_destroy(conf)
            throw DponeError(.source, "cannot create a kafka consumer: \(kafkaBufferText(errbuf))")
        }
        return KafkaConsumerHandle(adopting: rk)
    }

    func subscribe(_ topic: String) throws {
        guard let list = rd_kafka_topic_partition_list_new(1) else { throw DponeError(.internal, "partition list") }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA)
        let err = rd_kafka_subscribe(rk, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw DponeError(.source, "kafka subscribe to \(topic): \(kafkaErrorText(err))", context: ["topic": topic])
        }
    }

    /// Commits and waits for the result at most `timeoutMs`: a coordinator stuck in a rebalance
    /// cannot hang the stream (a commit that did not land only means the next owner re-reads from
    /// the previous commit: at-least-once, never loss). Returns whether the commit succeeded.
    func commit(_ offsets: [KafkaPartitionOffset], timeoutMs: Int32) -> (ok: Bool, error: String?) {
        guard !offsets.isEmpty else { return (true, nil) }
        guard let list = rd_kafka_topic_partition_list_new(Int32(offsets.count)), let queue = rd_kafka_queue_new(rk) else {
            return (false, "cannot allocate a commit")
        }
        defer {
            rd_kafka_topic_partition_list_destroy(list)
            rd_kafka_queue_destroy(queue)
        }
        for o in offsets { rd_kafka_topic_partition_list_add(list, o.topic, o.partition).pointee.offset = o.offset }
        let err = rd_kafka_commit_queue(rk, list, queue, nil, nil)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { return (false, kafkaErrorText(err)) }
        guard let event = rd_kafka_queue_poll(queue, Int32(timeoutMs)) else { return (false, "no answer within \(timeoutMs) ms") }
        defer { rd_kafka_event_destroy(event) }
        let result = rd_kafka_event_error(event)
        return result == RD_KAFKA_RESP_ERR_NO_ERROR ? (true, nil) : (false, kafkaErrorText(result))
    }

    /// Commits without waiting (from the acknowledging task: nothing blocks there).
    func commitAsync(_ offsets: [KafkaPartitionOffset]) {
        guard !offsets.isEmpty, let list = rd_kafka_topic_partition_list_new(Int32(offsets.count)) else { return }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for o in offsets { rd_kafka_topic_partition_list_add(list, o.topic, o.partition).pointee.offset = o.offset }
        _ = rd_kafka_commit(rk, list, 1)
    }
}

/// Sets each partition of an assignment with a `resume` offset to start at the furthest of that
/// offset and the group's committed one (asked for here, 5 s at most): never behind what this
/// process read, never behind what another member committed meanwhile.
private func startAtTheFurthest(
    _ rk: OpaquePointer, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>, _ resume: [Int32: Int64]
) {
    for i in 0..<Int(partitions.pointee.cnt) { partitions.pointee.elems[i].offset = Int64(RD_KAFKA_OFFSET_INVALID) }
    let asked = rd_kafka_committed(rk, partitions, 5_000) == RD_KAFKA_RESP_ERR_NO_ERROR
    for i in 0..<Int(partitions.pointee.cnt) {
        let element = partitions.pointee.elems[i]
        let committed = asked && element.err == RD_KAFKA_RESP_ERR_NO_ERROR ? element.offset : Int64(RD_KAFKA_OFFSET_INVALID)
        if let mine = resume[element.partition], mine > committed {
            partitions.pointee.elems[i].offset = mine
        } else {
            // The group's committed offset (or, with none, the start position), as without a resume.
            partitions.pointee.elems[i].offset = committed >= 0 ? committed : Int64(RD_KAFKA_OFFSET_INVALID)
        }
    }
}
