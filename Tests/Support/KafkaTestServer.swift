import CKafka
import Foundation

/// The local Kafka tests use: librdkafka's mock cluster hosted by `dpone-kafka-mock`
/// (`scripts/kafka.sh start`). Its control address comes from `DPONE_TEST_KAFKA_CONTROL`
/// (default `127.0.0.1:19092`); topics are created through it, and it tells the bootstrap servers.
///
/// Also a small blocking producer/consumer for fixtures (tests only: product code never blocks a
/// cooperative thread on librdkafka).
public enum KafkaTestServer {
    public static var control: (host: String, port: Int) {
        let text = ProcessInfo.processInfo.environment["DPONE_TEST_KAFKA_CONTROL"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:19092"
        let parts = text.split(separator: ":")
        return (String(parts.first ?? "127.0.0.1"), parts.count > 1 ? Int(parts[1]) ?? 19092 : 19092)
    }

    /// Fails (does not skip) when the mock cluster is not running.
    public static func require() throws {
        let (host, port) = control
        try IntegrationGate.requireService("the Kafka mock cluster (start it with scripts/kafka.sh start)", host: host, port: port)
    }

    /// Sends one control line (to `to`, default the shared cluster) and returns the answer.
    public static func command(_ line: String, to: (host: String, port: Int)? = nil) throws -> String {
        let (host, port) = to ?? control
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw KafkaTestError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw KafkaTestError("cannot reach the Kafka mock control port \(host):\(port)") }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            reply.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public static var bootstrap: String {
        get throws { try command("bootstrap") }
    }

    /// `kafka://<bootstrap>` for manifests.
    public static var url: String {
        get throws { "kafka://" + (try bootstrap) }
    }

    /// Creates a topic with a fresh unique name and returns it.
    public static func createTopic(_ prefix: String = "t", partitions: Int = 3) throws -> String {
        let name = "dpone_test_\(prefix)_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        let reply = try command("create \(name) \(partitions)")
        guard reply == "ok" else { throw KafkaTestError("create topic \(name): \(reply)") }
        return name
    }

    /// One message to produce: `value == nil` is a tombstone; `partition` nil lets the key decide.
    public struct Message: Sendable {
        public var key: [UInt8]?
        public var value: [UInt8]?
        public var partition: Int32?
        public init(key: String? = nil, value: String?, partition: Int32? = nil) {
            self.key = key.map { Array($0.utf8) }
            self.value = value.map { Array($0.utf8) }
            self.partition = partition
        }
        public init(key: [UInt8]?, value: [UInt8]?, partition: Int32? = nil) {
            self.key = key
            self.value = value
            self.partition = partition
        }
    }

    /// Produces and waits for every delivery, on a thread of its own: a test never holds one of the
    /// cooperative pool's threads (two here) while librdkafka connects and flushes, which stalled
    /// other tests' awaits (a replication test's 300 ms stop request woke 14 s late).
    /// `bootstrap` nil: the shared cluster.
    public static func produce(_ topic: String, _ messages: [Message], bootstrap: String? = nil) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread { continuation.resume(with: Result { try produceBlocking(topic, messages, bootstrap: bootstrap) }) }.start()
        }
    }

    /// Produces and waits for every delivery (blocking: not from an async context).
    public static func produceBlocking(_ topic: String, _ messages: [Message], bootstrap servers: String? = nil) throws {
        var errbuf = [CChar](repeating: 0, count: 512)
        let conf = rd_kafka_conf_new()
        _ = rd_kafka_conf_set(conf, "bootstrap.servers", try servers ?? bootstrap, &errbuf, errbuf.count)
        _ = rd_kafka_conf_set(conf, "log_level", "3", &errbuf, errbuf.count)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errbuf, errbuf.count) else { throw KafkaTestError("producer") }
        defer { rd_kafka_destroy(rk) }
        for m in messages {
            var err = RD_KAFKA_RESP_ERR__QUEUE_FULL
            while err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                err = withOptionalBytes(m.key) { k in
                    withOptionalBytes(m.value) { v in
                        dpone_kafka_produce(
                            rk, topic, m.partition ?? RD_KAFKA_PARTITION_UA, k?.baseAddress, k?.count ?? 0, v?.baseAddress,
                            v?.count ?? 0, nil)
                    }
                }
                if err == RD_KAFKA_RESP_ERR__QUEUE_FULL { rd_kafka_poll(rk, 50) }
            }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaTestError("produce: \(err.rawValue)") }
        }
        guard rd_kafka_flush(rk, 30_000) == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaTestError("flush timed out") }
    }

    /// A consumed message.
    public struct Record: Sendable, Equatable {
        public var partition: Int32
        public var offset: Int64
        public var key: String?
        public var value: String?
        public var headers: [String: String]
    }

    /// `consumeAll` on a thread of its own, so a test polling a topic in a loop never holds a
    /// thread of the cooperative pool (2 on this machine) while librdkafka reads.
    public static func consumeAllOffPool(_ topic: String, partitions: Int) async throws -> [Record] {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try consumeAll(topic, partitions: partitions) })
            }.start()
        }
    }

    /// Every message of `topic` from the beginning to the high watermarks at call time (blocking:
    /// from an async context use `consumeAllOffPool`).
    public static func consumeAll(_ topic: String, partitions: Int) throws -> [Record] {
        var errbuf = [CChar](repeating: 0, count: 512)
        let conf = rd_kafka_conf_new()
        for (k, v) in [
            ("bootstrap.servers", try bootstrap), ("group.id", "dpone-test-reader"), ("enable.auto.commit", "false"),
            ("enable.partition.eof", "true"), ("log_level", "3"),
        ] {
            _ = rd_kafka_conf_set(conf, k, v, &errbuf, errbuf.count)
        }
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errbuf, errbuf.count) else { throw KafkaTestError("consumer") }
        defer {
            rd_kafka_consumer_close(rk)
            rd_kafka_destroy(rk)
        }
        rd_kafka_poll_set_consumer(rk)
        var ends: [Int32: Int64] = [:]
        let list = rd_kafka_topic_partition_list_new(Int32(partitions))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for p in 0..<Int32(partitions) {
            var low: Int64 = 0
            var high: Int64 = 0
            _ = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, 10_000)
            ends[p] = high
            if high > low { rd_kafka_topic_partition_list_add(list, topic, p).pointee.offset = low }
        }
        rd_kafka_assign(rk, list)
        var pending = Set(ends.filter { $0.value > 0 }.map(\.key))
        var records: [Record] = []
        let deadline = Date().addingTimeInterval(30)
        while !pending.isEmpty && Date() < deadline {
            guard let msg = rd_kafka_consumer_poll(rk, 200) else { continue }
            defer { rd_kafka_message_destroy(msg) }
            let m = msg.pointee
            if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                if m.offset >= ends[m.partition] ?? 0 { pending.remove(m.partition) }
                continue
            }
            guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            var headers: [String: String] = [:]
            var hdrs: OpaquePointer?
            if rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs {
                var i = 0
                var name: UnsafePointer<CChar>?
                var value: UnsafeRawPointer?
                var size = 0
                while rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                    if let name, let value {
                        headers[String(cString: name)] = String(decoding: UnsafeRawBufferPointer(start: value, count: size), as: UTF8.self)
                    }
                    i += 1
                }
            }
            records.append(
                Record(
                    partition: m.partition, offset: m.offset,
                    key: m.key.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: m.key_len), as: UTF8.self) },
                    value: m.payload.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: m.len), as: UTF8.self) },
                    headers: headers))
            if m.offset + 1 >= ends[m.partition] ?? 0 { pending.remove(m.partition) }
        }
        guard pending.isEmpty else { throw KafkaTestError("timed out reading \(topic)") }
        return records.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
    }

    /// `committed` on a thread of its own (it waits on the broker).
    public static func committedOffPool(_ topic: String, group: String, partitions: Int) async throws -> [Int64] {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try committed(topic, group: group, partitions: partitions) }) }.start()
        }
    }

    /// The offsets `group` committed for partitions `0..<partitions` of `topic` (-1001: none).
    public static func committed(_ topic: String, group: String, partitions: Int) throws -> [Int64] {
        var errbuf = [CChar](repeating: 0, count: 512)
        let conf = rd_kafka_conf_new()
        for (k, v) in [("bootstrap.servers", try bootstrap), ("group.id", group), ("log_level", "3")] {
            _ = rd_kafka_conf_set(conf, k, v, &errbuf, errbuf.count)
        }
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errbuf, errbuf.count) else { throw KafkaTestError("consumer") }
        defer {
            rd_kafka_consumer_close(rk)
            rd_kafka_destroy(rk)
        }
        guard let list = rd_kafka_topic_partition_list_new(Int32(partitions)) else { throw KafkaTestError("list") }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for p in 0..<Int32(partitions) { rd_kafka_topic_partition_list_add(list, topic, p) }
        guard rd_kafka_committed(rk, list, 10_000) == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaTestError("committed") }
        return (0..<Int(list.pointee.cnt)).map { list.pointee.elems[$0].offset }
    }

    private static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBytes { body($0) }
    }
}

public struct KafkaTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
