import CKafka
import Flow
import Foundation
import Synchronization

/// Counts delivery reports: librdkafka calls back (on the thread that polls the producer) once per
/// produced message, with success or the error that made it undeliverable.
final class DeliveryTracker: Sendable {
    struct Counts: Sendable {
        var delivered = 0
        var failed = 0
        var firstError: String?
    }

    let counts = Mutex(Counts())

    func record(_ err: rd_kafka_resp_err_t, topic: String, partition: Int32) {
        counts.withLock { c in
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                c.delivered += 1
            } else {
                c.failed += 1
                if c.firstError == nil { c.firstError = "\(topic)[\(partition)]: \(kafkaErrorText(err))" }
            }
        }
    }

    /// Returns the counts so far and starts again from zero.
    func take() -> Counts { counts.withLock { c in defer { c = Counts() }; return c } }
}

/// A librdkafka producer. Blocking calls (`produce` when the queue is full, `flush`) run on the
/// owner's dedicated thread. Delivery reports land in `tracker` during `poll`/`flush`.
final class KafkaProducerHandle: @unchecked Sendable {
    let rk: OpaquePointer
    let tracker: DeliveryTracker
    private let trackerRef: Unmanaged<DeliveryTracker>
    private var destroyed = false

    init(properties: KafkaProperties) throws {
        let conf = try properties.makeConf()
        let tracker = DeliveryTracker()
        self.tracker = tracker
        trackerRef = Unmanaged.passRetained(tracker)
        rd_kafka_conf_set_opaque(conf, trackerRef.toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque else { return }
            let tracker = Unmanaged<DeliveryTracker>.fromOpaque(opaque).takeUnretainedValue()
            let topic = message.pointee.rkt.flatMap { rd_kafka_topic_name($0) }.flatMap { String(validatingCString: $0) } ?? "?"
            tracker.record(message.pointee.err, topic: topic, partition: message.pointee.partition)
        }
        var errbuf = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errbuf, errbuf.count) else {
            rd_kafka_conf_destroy(conf)
            trackerRef.release()
            throw DponeError(.sink, "cannot create a kafka producer: \(kafkaBufferText(errbuf))")
        }
        self.rk = rk
    }

    deinit { destroy() }

    func destroy() {
        guard !destroyed else { return }
        destroyed = true
        rd_kafka_destroy(rk)
        trackerRef.release()
    }

    /// Queues one message (copied). `value == nil` produces a tombstone. Waits (serving delivery
    /// reports) while librdkafka's queue is full.
    func produce(
        topic: String, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, headers: [(String, [UInt8])]
    ) throws {
        while true {
            var hdrs: OpaquePointer? = nil
            if !headers.isEmpty {
                hdrs = rd_kafka_headers_new(headers.count)
                for (name, bytes) in headers {
                    _ = bytes.withUnsafeBytes { rd_kafka_header_add(hdrs, name, -1, $0.baseAddress, $0.count) }
                }
            }
            let err = dpone_kafka_produce_headers(
                rk, topic, RD_KAFKA_PARTITION_UA, key?.baseAddress, key?.count ?? 0, value?.baseAddress, value?.count ?? 0,
                hdrs, nil)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            if let hdrs { rd_kafka_headers_destroy(hdrs) }
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                throw DponeError(.sink, "kafka produce to \(topic): \(kafkaErrorText(err))", context: ["topic": topic])
            }
            rd_kafka_poll(rk, 100)
        }
    }

    /// Serves delivery reports that are ready, without waiting.
    func poll() { rd_kafka_poll(rk, 0) }

    /// Waits until every queued message got its delivery report, up to `timeoutMs`.
    func flush(timeoutMs: Int32) throws {
        let err = rd_kafka_flush(rk, timeoutMs)
        if err == RD_KAFKA_RESP_ERR__TIMED_OUT {
            throw DponeError(
                .sink, "kafka: \(rd_kafka_outq_len(rk)) message(s) not acknowledged within \(timeoutMs / 1000) s",
                hint: "check the brokers; the checkpoint is not acknowledged, so nothing is lost")
        }
        var buffer = [CChar](repeating: 0, count: 512)
        let fatal = rd_kafka_fatal_error(rk, &buffer, buffer.count)
        if fatal != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw DponeError(.sink, "kafka producer fatal error: \(kafkaBufferText(buffer))")
        }
    }
}
