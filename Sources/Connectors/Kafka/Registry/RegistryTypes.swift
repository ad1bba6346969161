import KafkaCodecs

/// A reference from one schema to another registered one (Protobuf imports, JSON Schema `$ref`s,
/// Avro named types defined elsewhere): `name` is how the referring schema names it (an import
/// path, a URL, a full Avro name), resolved to `subject` at `version`.
public struct SchemaReference: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var subject: String
    public var version: Int

    public init(name: String, subject: String, version: Int) {
        self.name = name
        self.subject = subject
        self.version = version
    }

    public var description: String { "\(name) → \(subject) v\(version)" }
}

/// A schema as the registry holds it under a global id. Ids are immutable: the same id always
/// names the same schema.
public struct RegisteredSchema: Sendable, Equatable {
    public var id: Int32
    /// `AVRO` when the registry omits the field.
    public var schemaType: SchemaType
    /// The schema text as registered (Avro JSON, a .proto file, a JSON Schema document).
    public var schema: String
    public var references: [SchemaReference]

    public init(id: Int32, schemaType: SchemaType = .avro, schema: String, references: [SchemaReference] = []) {
        self.id = id
        self.schemaType = schemaType
        self.schema = schema
        self.references = references
    }
}

/// How a serializer names the subject a topic's key or value schema is registered under
/// (Confluent's `key.subject.name.strategy` / `value.subject.name.strategy`).
public enum SubjectNameStrategy: String, Sendable, Hashable, CaseIterable {
    /// `<topic>-key` / `<topic>-value`: one schema lineage per topic (Confluent's default).
    case topicName = "topic_name"
    /// `<record full name>`: one lineage per record type, shared by every topic.
    case recordName = "record_name"
    /// `<topic>-<record full name>`: one lineage per record type and topic.
    case topicRecordName = "topic_record_name"

    /// Accepts `topic_name`, `topicName`, `TopicNameStrategy` and Confluent's Java class names
    /// (`io.confluent.kafka.serializers.subject.TopicNameStrategy`), case-insensitive.
    public init?(name: String) {
        var key = name.split(separator: ".").last.map(String.init) ?? name
        key = key.lowercased().replacing("_", with: "")
        if key.hasSuffix("strategy") { key.removeLast("strategy".count) }
        switch key {
        case "topicname", "topic": self = .topicName
        case "recordname", "record": self = .recordName
        case "topicrecordname", "topicrecord": self = .topicRecordName
        default: return nil
        }
    }

    /// The subject for `topic`'s key (`isKey`) or value whose record (message) type is
    /// `recordName`, its full name with namespace (Avro) or package (Protobuf). `recordName` is not
    /// used by `topicName`.
    public func subject(topic: String, recordName: String, isKey: Bool) -> String {
        switch self {
        case .topicName: "\(topic)-\(isKey ? "key" : "value")"
        case .recordName: recordName
        case .topicRecordName: "\(topic)-\(recordName)"
        }
    }

    /// Whether the subject depends on the record name (so it must be known before registering).
    public var needsRecordName: Bool { self != .topicName }
}
