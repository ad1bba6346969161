/// A validated, env-resolved single-process manifest.
///
/// Produced only by `ManifestLoader`; every default is applied, every `${VAR}` and
/// `connection_ref` resolved. Encoding it (JSON or YAML, see `ManifestRenderer`) masks passwords.
public struct ManifestDocument: Sendable, Hashable, Encodable {
    /// `name`: `[A-Za-z0-9_.-]+`.
    public var name: String
    /// `description`, free text.
    public var description: String?
    public var source: SourceConfig
    public var sink: SinkConfig
    /// `state`; a file store under `.dpone/state` when absent.
    public var state: StateConfig
    /// `transforms`, in application order.
    public var transforms: [TransformConfig]

    public init(
        name: String, description: String? = nil, source: SourceConfig, sink: SinkConfig,
        state: StateConfig = StateConfig(), transforms: [TransformConfig] = []
    ) {
        self.name = name
        self.description = description
        self.source = source
        self.sink = sink
        self.state = state
        self.transforms = transforms
    }
}
