/// `sink.options`: the shared keys, typed; a connector's own keys in `connector` (decoded by its
/// `EndpointSpec`), or untyped in `extra`.
public struct SinkOptions: Sendable, Hashable, Encodable {
    /// The keys every sink accepts.
    public static let sharedKeys = ["lineage", "row_hash"]

    /// `lineage`: add `__dpone__load_id` and `__dpone__loaded_at`; default false.
    public var lineage: Bool
    /// `row_hash`: add `__dpone__row_hash`; default false.
    public var rowHash: Bool
    /// The connector's own options, typed by it.
    public var connector: AnyConnectorOptions?
    /// Keys of a connector that keeps them untyped, env-resolved.
    public var extra: [String: ManifestValue]
    /// `schema_evolution.widen` (a table sink): `auto` (default, true) widens a target column the
    /// source widened safely; `fail` (false) refuses it before any write.
    public var widen = true
    /// `schema_evolution.drop` (a table sink): `keep` (default, true) leaves a column the source no
    /// longer has in the target, NULL from then on; `fail` (false) refuses it before any write.
    public var keepDropped = true

    public init(lineage: Bool = false, rowHash: Bool = false, extra: [String: ManifestValue] = [:]) {
        self.lineage = lineage
        self.rowHash = rowHash
        self.extra = extra
    }

    /// The connector's options when they are a `T`.
    public func connector<T: ConnectorOptions>(_ type: T.Type) -> T? { connector?.value as? T }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: RenderKey.self)
        try c.encode(lineage, forKey: "lineage")
        try c.encode(rowHash, forKey: "row_hash")
        try c.encode(widen, forKey: "widen")
        try c.encode(keepDropped, forKey: "keep_dropped")
        if let connector { try c.encode(connector, forKey: RenderKey(connector.value.renderKey)) }
        if !extra.isEmpty { try c.encode(extra, forKey: "extra") }
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
