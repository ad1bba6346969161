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
    /// `retry`: how `dpone stream` rides out a lost server (batch runs fail fast).
    public var retry = RetryConfig()

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

/// `retry: {max_elapsed: 10m, initial: 1s, max: 30s}`: `dpone stream` retries a failure that may
/// pass (a lost connection, a server restarting) with capped exponential backoff, each attempt
/// resuming from the last durable checkpoint; it gives up when failures continue for `max_elapsed`
/// without a checkpoint committed in between.
public struct RetryConfig: Sendable, Hashable, Encodable {
    /// Seconds of failing attempts, with no checkpoint committed, before the run gives up (default 600).
    public var maxElapsed: Double = 600
    /// The first wait, in seconds (default 1); doubled after each failed attempt.
    public var initial: Double = 1
    /// The longest wait, in seconds (default 30).
    public var max: Double = 30

    public init() {}

    enum CodingKeys: String, CodingKey {
        case maxElapsed = "max_elapsed"
        case initial, max
    }
}
