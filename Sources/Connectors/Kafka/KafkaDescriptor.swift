import ConnectorKit
import Flow
import Foundation
import Manifest

/// The Kafka connector (librdkafka): a bounded or continuous (consumer group) topic source, and a
/// producer sink; JSON, Avro, Protobuf and JSON Schema with a schema registry.
public struct KafkaDescriptor: ConnectorDescriptor {
    public init() {}

    public var type: EndpointType { .kafka }
    public var sourceRepeatsKeys: Bool { true }
    /// A topic is consumed (offsets move on): a backfill chunk could not read its range again.
    public var rereadsRanges: Bool { false }

    /// `dpone stream`: the consumer group is the pipeline's (`dpone-<name>`) unless set; the
    /// identity of state and ledger is the worker's.
    public func forStream(_ source: SourceConfig, pipeline: String) -> SourceConfig {
        var source = source
        var kafka = source.options.kafka ?? KafkaOptions()
        if kafka.groupID == nil { kafka.groupID = "dpone-\(pipeline)" }
        source.options.kafka = kafka
        return source
    }

    /// librdkafka properties from a `kafka://[user:password@]host:port[,host:port...]` connection
    /// (`kafkas://` for TLS) and `options.kafka`. Credentials in the URL become SASL settings.
    static func kafkaProperties(_ connection: ResolvedConnection?, _ options: KafkaOptions) throws -> KafkaProperties {
        guard let url = connection?.url else {
            throw DponeError(.manifest, "a kafka endpoint needs a connection (url: kafka://host:9092,host2:9092)")
        }
        var rest = Substring(url)
        var tls = false
        if rest.hasPrefix("kafka://") {
            rest = rest.dropFirst("kafka://".count)
        } else if rest.hasPrefix("kafkas://") {
            rest = rest.dropFirst("kafkas://".count)
            tls = true
        }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) { rest = rest[..<end] }
        var properties = KafkaProperties(options.properties.values)
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userinfo.split(separator: ":", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            properties.setDefault("sasl.username", parts[0])
            if parts.count > 1 { properties.setDefault("sasl.password", parts[1]) }
            properties.setDefault("security.protocol", tls ? "SASL_SSL" : "SASL_PLAINTEXT")
            properties.setDefault("sasl.mechanisms", "PLAIN")
        } else if tls {
            properties.setDefault("security.protocol", "SSL")
        }
        guard !rest.isEmpty else { throw DponeError(.manifest, "the kafka connection names no broker") }
        properties["bootstrap.servers"] = String(rest)
        return properties
    }

    static func registry(_ config: SchemaRegistryConfig?) -> KafkaRegistryOptions? {
        config.map {
            KafkaRegistryOptions(
                url: $0.url, username: $0.username, password: $0.password,
                subjectStrategy: SubjectNameStrategy(name: $0.subjectStrategy) ?? .topicName, recordName: $0.recordName)
        }
    }

    public func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        let config = request.config
        let pipeline = request.pipeline
        let continuous = request.continuous
        guard let topic = config.topic else { throw DponeError(.manifest, "a kafka source needs a topic") }
        let o = config.options.kafka ?? KafkaOptions()
        var options = KafkaSourceOptions(
            topic: topic, properties: try Self.kafkaProperties(config.connection?.resolved, o),
            groupID: o.groupID ?? "dpone-\(pipeline)")
        options.format = KafkaFormat(rawValue: o.format) ?? .json
        options.envelope = KafkaEnvelope(rawValue: o.envelope) ?? .flat
        options.schema = config.options.schema
        if let n = o.sampleRecords { options.sampleRecords = n }
        switch o.readMode {
        case "time_window": options.readMode = .timeWindow(fromMs: (o.windowFromMicros ?? 0) / 1000, toMs: o.windowToMicros.map { $0 / 1000 })
        case "max_records": options.readMode = .maxRecords(o.maxRecords ?? 1)
        default: options.readMode = .offsets
        }
        switch o.start {
        case "earliest": options.start = .earliest
        case "latest": options.start = .latest
        case "timestamp": options.start = .timestamp((o.startTimestampMicros ?? 0) / 1000)
        default: options.start = .committed
        }
        options.offsetStorage = o.offsetStorage == "kafka" ? .kafka : .dpone
        if o.onDecodeError == "quarantine", let path = o.quarantinePath {
            options.onDecodeError = .quarantine(path: path, maxMessages: o.quarantineMaxMessages)
        }
        options.tombstones = KafkaTombstonePolicy(rawValue: o.tombstones) ?? .fail
        options.keyFormat = KafkaKeyFormat(rawValue: o.keyFormat) ?? .json
        options.keyColumns = request.keyColumns
        options.metadataColumns = o.metadata
        options.registry = Self.registry(o.schemaRegistry)
        if let s = o.stallTimeoutSeconds { options.stallTimeoutSeconds = Double(s) }
        if let rows = config.options.batchRows { options.batchRows = rows }
        options.continuous = continuous
        return try KafkaSource(name: "kafka:\(topic)", options: options)
    }

    /// `dpone batch --dry-run`: no staging; how rows become events.
    public func dryRun(_ request: SinkRequest, nextCheckpoint: UInt64, columns: () async throws -> [String]) async throws -> SinkDryRun? {
        guard let sink = try makeSink(request) as? KafkaSink else { return nil }
        let options = sink.options
        let key = options.keyColumns.isEmpty ? "no key" : "key {\(options.keyColumns.joined(separator: ", "))} as JSON"
        let events: String
        switch options.mode {
        case .snapshot: events = "every row as a snapshot event"
        case .insert: events = "every row as an insert event"
        case .upsert: events = "rows as upserts; rows marked deleted as tombstones (flat) or delete events (dpone envelope)"
        }
        return SinkDryRun(
            staging: "none: batches are produced as they arrive (idempotent producer)",
            finalizer: [
                "each row of (\(try await columns().joined(separator: ", "))) -> one message on \(options.topic), \(key), value \(options.format.rawValue) (\(options.envelope.rawValue) envelope): \(events)",
                "checkpoint \(nextCheckpoint) is published once every delivery report arrived; a failed delivery fails it (at-least-once across a crash: consumers converge by key)",
            ])
    }

    public func makeSink(_ request: SinkRequest) throws -> any SinkOperator {
        let config = request.config
        let pipeline = request.pipeline
        let loadID = request.loadID
        guard let topic = config.topic else { throw DponeError(.manifest, "a kafka sink needs a topic") }
        let o = config.options.kafka ?? KafkaOptions()
        var options = KafkaSinkOptions(topic: topic, properties: try Self.kafkaProperties(config.connection?.resolved, o))
        options.format = KafkaFormat(rawValue: o.format) ?? .json
        options.envelope = o.envelope == "dpone" ? .dpone : .flat
        options.keyColumns = config.strategy.uniqueKey
        options.registry = Self.registry(o.schemaRegistry)
        if let s = o.deliveryTimeoutSeconds { options.deliveryTimeoutMs = Int32(min(s, 86_400) * 1000) }
        switch config.strategy.mode {
        case .fullRefresh: options.mode = .snapshot
        case .incrementalAppend: options.mode = .insert
        case .incrementalMerge, .snapshotDiff, .cdcApply: options.mode = .upsert
        case .replace, .partitionReplace, .scd2, .backfill:
            throw DponeError(
                .usage, "strategy mode \(config.strategy.mode.rawValue) cannot be expressed as Kafka events",
                hint: "use full_refresh (snapshot events), incremental_append (inserts) or incremental_merge (upserts and tombstones)")
        }
        return try KafkaSink(name: "kafka:\(topic)", options: options, pipeline: pipeline, loadID: loadID)
    }
}

extension EndpointType {
    /// The manifest's `type: kafka`.
    public static let kafka: EndpointType = "kafka"
}
