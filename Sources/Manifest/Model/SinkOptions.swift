/// `sink.options`. `file` is set exactly when the sink type is `files`.
public struct SinkOptions: Sendable, Hashable, Codable {
    /// `lineage`: add `__dpone__load_id` and `__dpone__loaded_at`; default false.
    public var lineage: Bool
    /// `row_hash`: add `__dpone__row_hash`; default false.
    public var rowHash: Bool
    /// File layout; non-nil iff the sink type is `files`.
    public var file: FileOptions?
    /// Kafka keys; non-nil iff the sink type is `kafka`.
    public var kafka: KafkaOptions?
    /// Connector-specific keys not modelled here (non-files types only), env-resolved.
    public var extra: [String: ManifestValue]
    /// `schema_evolution.widen`: `auto` (default, true) widens a target column the source widened
    /// safely; `fail` (false) refuses it before any write.
    public var widen = true
    /// `schema_evolution.drop`: `keep` (default, true) leaves a column the source no longer has in
    /// the target, NULL from then on; `fail` (false) refuses it before any write.
    public var keepDropped = true

    public init(lineage: Bool = false, rowHash: Bool = false, file: FileOptions? = nil, extra: [String: ManifestValue] = [:]) {
        self.lineage = lineage
        self.rowHash = rowHash
        self.file = file
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey {
        case lineage
        case rowHash = "row_hash"
        case file, extra, kafka, widen
        case keepDropped = "keep_dropped"
    }
}

/// `schema_evolution.widen`: `auto` widens a target column the source widened safely (int ->
/// bigint); `fail` refuses it before any write.
public enum WidenPolicy: String, Sendable, CaseIterable {
    case auto, fail
}

/// `schema_evolution.drop`: `keep` leaves a column the source no longer has in the target, NULL
/// from then on; `fail` refuses it before any write.
public enum DropPolicy: String, Sendable, CaseIterable {
    case keep, fail
}
