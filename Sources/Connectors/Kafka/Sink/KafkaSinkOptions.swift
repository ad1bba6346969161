import Flow

/// What a Kafka sink's events mean, from the manifest's strategy.
public enum KafkaEventMode: String, Sendable, Equatable {
    /// `full_refresh`: every row as a snapshot event.
    case snapshot
    /// `incremental_append`: every row as an insert.
    case insert
    /// `incremental_merge`, `snapshot_diff`, `cdc_apply`: rows as upserts, rows the batch marks
    /// deleted as tombstones (flat) or delete events (dpone envelope) with their key.
    case upsert
}

/// Options of a Kafka producer sink.
public struct KafkaSinkOptions: Sendable {
    public var topic: String
    /// librdkafka properties; must include `bootstrap.servers`.
    public var properties: KafkaProperties
    public var format: KafkaFormat = .json
    /// `flat` (the row is the value) or `dpone` (`{op, data, metadata, source, schema_version}`).
    public var envelope: KafkaEnvelope = .flat
    public var mode: KafkaEventMode = .insert
    /// Key columns (`unique_key`): the key is their JSON object (`{"id": 1}`); none → no key.
    public var keyColumns: [String] = []
    public var registry: KafkaRegistryOptions?
    /// How long finalize waits for the delivery reports of a checkpoint.
    public var deliveryTimeoutMs: Int32 = 120_000

    public init(topic: String, properties: KafkaProperties) {
        self.topic = topic
        self.properties = properties
    }

    /// Producer properties: the user's, plus dpone's defaults (idempotent producer, acks from all
    /// in-sync replicas, compression).
    var producerProperties: KafkaProperties {
        var p = properties
        p.setDefault("enable.idempotence", "true")
        p.setDefault("acks", "all")
        p.setDefault("compression.type", "lz4")
        p.setDefault("linger.ms", "20")
        p.setDefault("log_level", "3")
        return p
    }
}
