import Flow
import Manifest

/// The schema registry of a registry-backed Kafka format (`options.schema_registry`).
public struct SchemaRegistryConfig: Sendable, Hashable, Codable {
    public static let subjectStrategies = ["topic_name", "record_name", "topic_record_name"]

    public var url: String
    public var username: String?
    public var password: String?
    /// `subject_strategy`: topic_name (default, `<topic>-value`), record_name (`<record>`),
    /// topic_record_name (`<topic>-<record>`).
    public var subjectStrategy = "topic_name"
    /// `record_name`: the fully qualified record/message name (sources with a record strategy; sinks
    /// default to `dpone.<topic>`).
    public var recordName: String?

    public init(url: String, username: String? = nil, password: String? = nil) {
        self.url = url
        self.username = username
        self.password = password
    }

    /// Encodes (renders) with the password masked.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(url, forKey: .url)
        try c.encodeIfPresent(username, forKey: .username)
        try c.encodeIfPresent(password.map { _ in "***" }, forKey: .password)
        try c.encode(subjectStrategy, forKey: .subjectStrategy)
        try c.encodeIfPresent(recordName, forKey: .recordName)
    }

    enum CodingKeys: String, CodingKey {
        case url, username, password
        case subjectStrategy = "subject_strategy"
        case recordName = "record_name"
    }
}

/// `source.options` / `sink.options` of a kafka endpoint, checked strictly. Values are validated
/// here; the connector maps them to its own types.
public struct KafkaOptions: ConnectorOptions, Hashable, Codable {
    public var renderKey: String { "kafka" }

    public static let formats = ["json", "avro", "protobuf", "json_schema"]
    public static let sourceEnvelopes = ["flat", "dpone", "debezium"]
    public static let sinkEnvelopes = ["flat", "dpone"]
    public static let starts = ["committed", "earliest", "latest"]
    public static let readModes = ["offsets", "time_window", "max_records"]
    public static let offsetStorages = ["dpone", "kafka"]
    public static let decodeErrorPolicies = ["fail", "quarantine"]
    public static let tombstonePolicies = ["fail", "skip", "delete"]
    /// How a message key is read (for the delete row of a tombstone): a JSON object or scalar, UTF-8
    /// text, an 8-byte big-endian integer (Kafka's LongSerializer), or registry-framed.
    public static let keyFormats = ["json", "string", "long", "avro", "protobuf", "json_schema", "none"]

    /// `format`; default json.
    public var format = "json"
    /// `envelope`; default flat.
    public var envelope = "flat"
    /// librdkafka properties (`kafka: {security.protocol: SASL_SSL, ...}`), passed through.
    public var properties = KafkaPropertyMap()
    public var schemaRegistry: SchemaRegistryConfig?
    // Source only.
    /// `start`: committed (default), earliest, latest, or an RFC 3339 time (as microseconds).
    public var start = "committed"
    public var startTimestampMicros: Int64?
    /// `read_mode`: offsets (default), time_window (`time_window: {from, to}`), max_records.
    public var readMode = "offsets"
    public var windowFromMicros: Int64?
    public var windowToMicros: Int64?
    public var maxRecords: Int?
    public var offsetStorage = "dpone"
    public var groupID: String?
    public var onDecodeError = "fail"
    public var quarantinePath: String?
    public var quarantineMaxMessages = 1000
    public var tombstones = "fail"
    /// `key_format`; default json.
    public var keyFormat = "json"
    /// `metadata`: add partition, offset, timestamp and key columns.
    public var metadata = false
    public var sampleRecords: Int?
    /// `stall_timeout` in seconds.
    public var stallTimeoutSeconds: Int?
    // Sink only.
    /// `delivery_timeout` in seconds.
    public var deliveryTimeoutSeconds: Int?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case format, envelope, start, tombstones, metadata
        case keyFormat = "key_format"
        case properties = "kafka"
        case schemaRegistry = "schema_registry"
        case startTimestampMicros = "start_timestamp_micros"
        case readMode = "read_mode"
        case windowFromMicros = "window_from_micros"
        case windowToMicros = "window_to_micros"
        case maxRecords = "max_records"
        case offsetStorage = "offset_storage"
        case groupID = "group_id"
        case onDecodeError = "on_decode_error"
        case quarantinePath = "quarantine_path"
        case quarantineMaxMessages = "quarantine_max_messages"
        case sampleRecords = "sample_records"
        case stallTimeoutSeconds = "stall_timeout"
        case deliveryTimeoutSeconds = "delivery_timeout"
    }
}

/// librdkafka properties as given in the manifest; encodes (renders) secret values as `***`.
public struct KafkaPropertyMap: Sendable, Hashable, Codable {
    public var values: [String: String] = [:]

    public init(_ values: [String: String] = [:]) { self.values = values }

    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    public init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: String].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Dictionary(uniqueKeysWithValues: values.map { ($0.key, SecretKeys.isSecret($0.key) ? "***" : $0.value) }))
    }
}

extension SourceOptions {
    /// The Kafka settings of a kafka source (nil: all defaults).
    public var kafka: KafkaOptions? {
        get { connector(KafkaOptions.self) }
        set { connector = newValue.map(AnyConnectorOptions.init) }
    }
}

extension SinkOptions {
    /// The Kafka settings of a kafka sink (nil: all defaults).
    public var kafka: KafkaOptions? {
        get { connector(KafkaOptions.self) }
        set { connector = newValue.map(AnyConnectorOptions.init) }
    }
}
