import ConnectorKit
import Flow
import Foundation
import Manifest

#if canImport(Glibc)
    import Glibc
#endif

/// `dpone doctor` for Kafka: the cluster's metadata (brokers), the pipeline's topic and its
/// partitions, and the schema registry.
extension KafkaDescriptor {
    public func doctor(_ document: ManifestDocument) async -> [DoctorProbe] {
        var probes: [DoctorProbe] = []
        for (role, type, connection, topic, options) in [
            ("source", document.source.type, document.source.connection, document.source.topic, document.source.options.kafka),
            ("sink", document.sink.type, document.sink.connection, document.sink.topic, document.sink.options.kafka),
        ] where type == .kafka {
            guard let properties = try? Self.kafkaProperties(connection?.resolved, options ?? KafkaOptions()) else {
                probes.append(DoctorProbe(name: "kafka \(role)", outcome: .failed, detail: "no usable kafka connection", fix: "set connection.url: kafka://host:9092"))
                continue
            }
            // The source's consumer group: its coordinator takes the commits (offset_storage: kafka)
            // and, under dpone stream, the partition assignment.
            let group = role == "source" ? (options?.groupID ?? "dpone-\(document.name)") : nil
            probes += await Self.probe(
                properties: properties, name: "kafka \(role)", topic: role == "source" ? topic : nil, group: group,
                groupRequired: options?.offsetStorage == "kafka")
            if let registry = options?.schemaRegistry {
                probes.append(await HTTPProbe.get(registry.url + "/subjects", name: "kafka \(role): schema registry", secrets: [registry.password].compactMap { $0 }))
            }
        }
        return probes
    }

    /// Metadata from the brokers of `properties` (and the partitions of `topic`), and with `group`,
    /// that group's coordinator (asked for the group's committed offsets of `topic`), on a thread of
    /// its own: librdkafka blocks. A coordinator that does not answer fails when `groupRequired`,
    /// else warns.
    public static func probe(
        properties: KafkaProperties, name: String, topic: String?, group: String? = nil, groupRequired: Bool = false,
        startHint: String? = nil
    ) async -> [DoctorProbe] {
        let servers = properties["bootstrap.servers"] ?? ""
        typealias Found = (brokers: [String], partitions: [Int32]?, committed: Result<[KafkaPartitionOffset], any Error>?)
        let result: Result<Found, any Error> = await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(
                    returning: Result {
                        var props = properties
                        props.setDefault("socket.timeout.ms", "5000")
                        props.setDefault("log_level", "0")
                        if let group { props["group.id"] = group }
                        let handle = try KafkaConsumerHandle(properties: props)
                        defer { handle.close() }
                        let brokers = try handle.brokers(timeoutMs: 5000)
                        let partitions = try topic.map { try handle.partitions(of: $0, timeoutMs: 5000) }
                        var committed: Result<[KafkaPartitionOffset], any Error>?
                        if group != nil, let topic, let partitions {
                            committed = Result {
                                try handle.committed(
                                    partitions.map { KafkaPartitionOffset(topic: topic, partition: $0, offset: -1001) }, timeoutMs: 5000)
                            }
                        }
                        return (brokers, partitions, committed)
                    })
            }.start()
        }
        switch result {
        case .success(let found):
            var probes = [DoctorProbe(name: name, outcome: .ok, detail: "\(found.brokers.count) broker(s): \(found.brokers.joined(separator: ", "))")]
            if let topic, let partitions = found.partitions {
                probes.append(DoctorProbe(name: "\(name): topic \(topic)", outcome: .ok, detail: "\(partitions.count) partition(s)"))
            }
            if let group, let committed = found.committed {
                switch committed {
                case .success(let offsets):
                    let stored = offsets.filter { $0.offset >= 0 }.count
                    probes.append(
                        DoctorProbe(
                            name: "\(name): group \(group)", outcome: .ok,
                            detail: "the coordinator answers; \(stored) of \(offsets.count) partition(s) have committed offsets"))
                case .failure(let error):
                    probes.append(
                        DoctorProbe(
                            name: "\(name): group \(group)", outcome: groupRequired ? .failed : .warning,
                            detail: "the group coordinator does not answer: \(error)",
                            fix: "check the brokers' __consumer_offsets topic and the ACLs of the group (Describe and Read on group \(group))"))
                }
            }
            return probes
        case .failure(let error):
            return [
                DoctorProbe(
                    name: name, outcome: .failed, detail: "kafka at \(servers): \(error)",
                    fix: startHint ?? "check that the brokers run and connection.url (kafka://host:9092), and that the topic exists")
            ]
        }
    }

    /// The bootstrap servers of the project's Kafka mock (`dpone-kafka-mock`), asked on its control
    /// port; nil when it does not answer.
    public static func mockBootstrap(control: String) -> String? {
        let parts = control.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(String(parts[0]))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let line = Array("bootstrap\n".utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            reply.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
