/// How a `ClickHouseClient` talks to its server.
public struct ClickHouseConfiguration: Sendable {
    /// `http[s]://[user[:password]@]host[:port]/[?database=db&setting=value]`; see `ClickHouseEndpoint`.
    public var url: String
    /// The default database of every request (`database=`); overrides `?database=` in the URL.
    public var database: String?
    /// Settings sent with every request as URL parameters (after the URL's own; per-call settings
    /// override both). Unknown settings are an error on the server (code 115).
    public var settings: [String: String]
    /// Limit for establishing a TCP connection (libcurl `CURLOPT_CONNECTTIMEOUT_MS`).
    public var connectTimeout: Duration
    /// Longest wait without any byte moving on the connection — the server not answering, or a
    /// streamed result stalling — before the request fails with kind `.timeout`. Time spent inside
    /// the caller's callbacks (a body producer waiting for data, a chunk consumer applying
    /// backpressure) does not count. nil: no limit. A statement that runs long without output
    /// (`INSERT ... SELECT`, `ALTER ... ` with `mutations_sync`) needs a limit above its duration.
    public var readTimeout: Duration?
    /// Retries of a request the caller marked idempotent, when it failed with a retryable error
    /// (connection failures, server overload codes). 0 disables retries.
    public var maxRetries: Int
    /// The first retry waits about this long; each further one doubles it (up to `maxRetryDelay`),
    /// with full jitter (a uniformly random wait between half and all of it).
    public var retryBaseDelay: Duration
    public var maxRetryDelay: Duration
    /// A kept-alive connection idle for longer is not reused (libcurl `CURLOPT_MAXAGE_CONN`). Keep it
    /// below the server's `keep_alive_timeout` (3 s on old servers, 10 s on newer and on the local
    /// services) so a request never goes out on a connection the server is closing.
    public var keepAliveIdle: Duration
    /// Name of the client's thread (`dpone-clickhouse` by default).
    public var threadName: String

    public init(
        url: String, database: String? = nil, settings: [String: String] = [:],
        connectTimeout: Duration = .seconds(10), readTimeout: Duration? = .seconds(300), maxRetries: Int = 3,
        retryBaseDelay: Duration = .milliseconds(200), maxRetryDelay: Duration = .seconds(5),
        keepAliveIdle: Duration = .seconds(2), threadName: String = "dpone-clickhouse"
    ) {
        self.url = url
        self.database = database
        self.settings = settings
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.maxRetries = maxRetries
        self.retryBaseDelay = retryBaseDelay
        self.maxRetryDelay = maxRetryDelay
        self.keepAliveIdle = keepAliveIdle
        self.threadName = threadName
    }

    /// The wait before retry number `attempt` (1 for the first retry): exponential with full jitter
    /// between half and all of `min(maxRetryDelay, retryBaseDelay * 2^(attempt-1))`.
    func retryDelay(attempt: Int) -> Duration {
        let base = Double(retryBaseDelay.milliseconds)
        let cap = Double(maxRetryDelay.milliseconds)
        let ceiling = min(cap, base * Double(1 << min(max(attempt - 1, 0), 20)))
        return .milliseconds(Int64(Double.random(in: (ceiling / 2)...max(ceiling / 2, ceiling))))
    }
}

extension Duration {
    /// Whole milliseconds (rounded down, at least 0).
    var milliseconds: Int64 {
        max(0, components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
