import Flow

/// The payload format of a topic's message values.
public enum KafkaFormat: String, Sendable, Equatable, CaseIterable {
    /// A JSON object per message (schema declared or inferred from a sample).
    case json
    /// Confluent wire format + Avro binary, writer schema from the registry.
    case avro
    /// Confluent wire format + Protobuf, `.proto` from the registry.
    case protobuf
    /// Confluent wire format + JSON, validated against the registry's JSON Schema.
    case jsonSchema = "json_schema"

    /// Whether messages carry the Confluent wire header and need a schema registry.
    public var usesRegistry: Bool { self != .json }
}

/// How message values wrap the row.
public enum KafkaEnvelope: String, Sendable, Equatable, CaseIterable {
    /// The value is the row.
    case flat
    /// `{op, data, metadata, source, schema_version}`: `data` is the row, `op` insert/update/upsert/delete.
    case dpone
    /// Debezium's `{before, after, op}` (optionally inside `payload`): `after` for c/u/r, `before` for d.
    case debezium
}

/// Which messages a bounded run reads, per partition.
public enum KafkaReadMode: Sendable, Equatable {
    /// From the stored position to the high watermark taken at start (default).
    case offsets
    /// The messages whose timestamps fall in `[from, to)` (ms since epoch; `to` nil = up to the
    /// high watermark at start). Ignores stored positions: a window is re-read as a whole.
    case timeWindow(fromMs: Int64, toMs: Int64?)
    /// Like `offsets`, stopping after `max` messages in all (positions record what was consumed).
    case maxRecords(Int)
}

/// Where a partition without a stored position starts.
public enum KafkaStartPosition: Sendable, Equatable {
    /// The group's committed offset, else the earliest retained (default).
    case committed
    case earliest
    case latest
    /// The first message at or after this time (ms since epoch).
    case timestamp(Int64)
}

/// Where consumed positions are committed after the sink published.
public enum KafkaOffsetStorage: String, Sendable, Equatable, CaseIterable {
    /// dpone's state only (default).
    case dpone
    /// dpone's state, then the consumer group (so group lag tooling sees progress).
    case kafka
}

/// What a message whose value does not decode does.
public enum KafkaDecodeErrorPolicy: Sendable, Equatable {
    /// Fail the run before anything is published, naming topic, partition and offset (default).
    case fail
    /// Append it to a JSON Lines quarantine file and go on; more than `maxMessages` fails the run.
    case quarantine(path: String, maxMessages: Int)
}

/// What a message with a null value (a tombstone) does.
public enum KafkaTombstonePolicy: String, Sendable, Equatable, CaseIterable {
    /// Fail the run naming the message (default: a delete is never dropped silently).
    case fail
    /// Ignore it.
    case skip
    /// Emit a delete row: the key (read by `KafkaKeyFormat`) fills the key columns, the rest NULL.
    case delete
}

/// How a message key is read into the key columns of a tombstone's delete row.
public enum KafkaKeyFormat: String, Sendable, Equatable, CaseIterable {
    /// A JSON object (its members fill the columns they name; Debezium's `{"schema", "payload"}`
    /// wrapper is unwrapped) or a JSON scalar (the one key column).
    case json
    /// UTF-8 text (confluent-kafka's StringSerializer): the one key column, parsed as its type.
    case string
    /// 8 bytes, big-endian (Kafka's LongSerializer): the one key column.
    case long
    /// Confluent-framed by a schema registry (`<topic>-key`): a record fills the columns its fields
    /// name, a primitive the one key column.
    case avro
    case protobuf
    case jsonSchema = "json_schema"
    /// Keys are not read: a tombstone cannot be applied.
    case none
}

/// The schema registry a registry-backed format reads writer schemas from.
public struct KafkaRegistryOptions: Sendable, Equatable {
    public var url: String
    public var username: String?
    public var password: String?
    /// How value subjects are named (`<topic>-value` by default).
    public var subjectStrategy: SubjectNameStrategy
    /// The record's full name for record strategies (sinks default to `dpone.<topic>`).
    public var recordName: String?

    public init(
        url: String, username: String? = nil, password: String? = nil, subjectStrategy: SubjectNameStrategy = .topicName,
        recordName: String? = nil
    ) {
        self.url = url
        self.username = username
        self.password = password
        self.subjectStrategy = subjectStrategy
        self.recordName = recordName
    }

    /// The value subject of `topic` for a record named `recordName`.
    func valueSubject(topic: String, recordName fallback: String) -> String {
        subjectStrategy.subject(topic: topic, recordName: recordName ?? fallback, isKey: false)
    }
}

/// Options of a bounded Kafka read.
public struct KafkaSourceOptions: Sendable {
    public var topic: String
    /// librdkafka properties; must include `bootstrap.servers`.
    public var properties: KafkaProperties
    /// The consumer group (offset commits, committed start positions). Default `dpone-<pipeline>`.
    public var groupID: String
    public var format: KafkaFormat = .json
    public var envelope: KafkaEnvelope = .flat
    /// The value columns; nil infers them from up to `sampleRecords` messages (JSON).
    public var schema: Schema?
    public var sampleRecords = 1000
    public var readMode: KafkaReadMode = .offsets
    public var start: KafkaStartPosition = .committed
    public var offsetStorage: KafkaOffsetStorage = .dpone
    public var onDecodeError: KafkaDecodeErrorPolicy = .fail
    public var tombstones: KafkaTombstonePolicy = .fail
    public var keyFormat: KafkaKeyFormat = .json
    /// The columns a key identifies (the sink's `unique_key`): a scalar key fills the one column;
    /// with `tombstones: delete` every other value column is nullable (a delete row has only its key).
    public var keyColumns: [String] = []
    /// Adds `__dpone__kafka_partition`, `__dpone__kafka_offset`, `__dpone__kafka_timestamp` and
    /// `__dpone__kafka_key` after the value columns.
    public var metadataColumns = false
    public var registry: KafkaRegistryOptions?
    /// A partition that makes no progress toward its window end for this long fails the run.
    public var stallTimeoutSeconds: Double = 60
    /// Broker request timeout (metadata, watermarks, commits).
    public var requestTimeoutMs: Int32 = 15_000
    /// Set for `dpone stream`: read continuously as a consumer-group member (see `KafkaStreamJob`).
    public var continuous: ContinuousMode?
    public var batchRows = 65_536
    public var batchBytes = 8 << 20

    public init(topic: String, properties: KafkaProperties, groupID: String) {
        self.topic = topic
        self.properties = properties
        self.groupID = groupID
    }

    /// Consumer properties: the user's, plus dpone's defaults (manual commits only, EOF events so a
    /// window end is noticed, no silent offset reset: a lost position is an error).
    var consumerProperties: KafkaProperties {
        var p = properties
        p["group.id"] = groupID
        p.setDefault("enable.auto.commit", "false")
        p.setDefault("enable.auto.offset.store", "false")
        p.setDefault("enable.partition.eof", "true")
        p.setDefault("auto.offset.reset", "error")
        p.setDefault("session.timeout.ms", "6000")
        p.setDefault("log_level", "3")
        return p
    }
}

/// The metadata columns `metadataColumns` adds.
public enum KafkaMetadataColumns {
    public static let partition = "__dpone__kafka_partition"
    public static let offset = "__dpone__kafka_offset"
    public static let timestamp = "__dpone__kafka_timestamp"
    public static let key = "__dpone__kafka_key"

    static let fields: [Field] = [
        Field(partition, .int32, nullable: false), Field(offset, .int64, nullable: false),
        Field(timestamp, .timestamp(withTimeZone: true)), Field(key, .string),
    ]
}
