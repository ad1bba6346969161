import CKafka
import Flow

/// librdkafka configuration properties (`bootstrap.servers`, `security.protocol`, `sasl.*`,
/// `ssl.*`...), passed through as given under `options.kafka`. Secrets never leave this type in
/// clear: `redacted` masks them for logs, errors and artifacts.
public struct KafkaProperties: Sendable, Equatable, CustomStringConvertible {
    public private(set) var values: [String: String]

    public init(_ values: [String: String] = [:]) {
        self.values = values
    }

    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// Sets `key` unless the user already did (dpone's defaults never override user settings).
    public mutating func setDefault(_ key: String, _ value: String) {
        if values[key] == nil { values[key] = value }
    }

    /// Whether a property holds a secret (see `SecretKeys`).
    public static func isSecret(_ key: String) -> Bool { SecretKeys.isSecret(key) }

    /// The properties with secret values replaced by `***`, sorted by key.
    public var redacted: [(key: String, value: String)] {
        values.keys.sorted().map { ($0, Self.isSecret($0) ? "***" : values[$0] ?? "") }
    }

    public var description: String { redacted.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") }

    /// A librdkafka configuration object with every property set; the caller owns it until it is
    /// passed to `rd_kafka_new`. A rejected property throws naming the key (never its value).
    func makeConf() throws -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw DponeError(.internal, "rd_kafka_conf_new failed") }
        var errbuf = [CChar](repeating: 0, count: 512)
        for key in values.keys.sorted() {
            if rd_kafka_conf_set(conf, key, values[key], &errbuf, errbuf.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw DponeError(
                    .manifest, "kafka property \(key) is rejected: \(kafkaBufferText(errbuf))",
                    hint: "options.kafka takes librdkafka properties (CONFIGURATION.md of librdkafka)",
                    context: ["property": key])
            }
        }
        return conf
    }
}
