import Formats
import Manifest

/// A name and a value, in manifest order (query parameters, headers, parent fields).
public struct RESTPair: Sendable, Hashable, Encodable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// How the next page is asked for (`paginator.type`).
public enum RESTPaginator: Sendable, Hashable, Encodable {
    /// One request.
    case none
    /// `?page=N` from `start`, by one; stops at an empty page or when `total_pages_path` says so.
    case pageNumber(param: String, start: Int, totalPagesPath: String?)
    /// `?offset=N&limit=L`; stops at a short or empty page, or at `total_path`.
    case offset(offsetParam: String, limitParam: String, limit: Int, totalPath: String?)
    /// A token from the body (`cursor_path`) or a header (`cursor_header`), sent as a query parameter
    /// or, for a POST, a body field (`param`).
    case cursor(cursorPath: String?, cursorHeader: String?, param: String, inBody: Bool)
    /// The next page's full URL at a path in the body.
    case nextURL(path: String)
    /// RFC 8288 `Link: <...>; rel="next"`.
    case linkHeader

    public var typeName: String {
        switch self {
        case .none: "none"
        case .pageNumber: "page_number"
        case .offset: "offset"
        case .cursor: "cursor"
        case .nextURL: "next_url"
        case .linkHeader: "link_header"
        }
    }

    public static let typeNames = ["none", "page_number", "offset", "cursor", "next_url", "link_header"]

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(typeName)
    }
}

/// How requests are authenticated (`auth.type`). Secrets are never rendered.
public enum RESTAuth: Sendable, Hashable, Encodable {
    case none
    case bearer(token: String)
    case basic(username: String, password: String)
    /// An API key in a header (`X-API-Key: ...`) or, with `inQuery`, a query parameter.
    case apiKey(name: String, value: String, inQuery: Bool)
    /// OAuth2 client credentials: a token from `tokenURL`, cached until it expires and fetched again
    /// once on a 401.
    case oauth2(tokenURL: String, clientID: String, clientSecret: String, scope: String?)

    public static let typeNames = ["none", "bearer", "basic", "api_key", "oauth2_client_credentials"]

    /// The values that must never appear in a log, an error or an artifact.
    public var secrets: [String] {
        switch self {
        case .none: []
        case .bearer(let token): [token]
        case .basic(_, let password): [password]
        case .apiKey(_, let value, _): [value]
        case .oauth2(_, _, let secret, _): [secret]
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .none: try c.encode("none")
        case .bearer: try c.encode("bearer ***")
        case .basic(let user, _): try c.encode("basic \(user):***")
        case .apiKey(let name, _, let q): try c.encode("api_key \(name)=*** (\(q ? "query" : "header"))")
        case .oauth2(let url, let id, _, _): try c.encode("oauth2_client_credentials \(id):*** at \(url)")
        }
    }
}

/// What an answer with a given status does (`on_status`).
public enum RESTStatusAction: String, Sendable, Hashable, Encodable, CaseIterable {
    /// No records from it; the read goes on (a child resource that is gone).
    case ignore
    case retry
    case fail
}

/// Retries of one request (`retry`): exponential backoff with jitter from `initial` to `max`, at most
/// `maxAttempts` attempts and `maxElapsed` seconds of waiting in all; a `Retry-After` is honoured up
/// to `maxRetryWait`.
public struct RESTRetry: Sendable, Hashable, Encodable {
    public var maxAttempts = 8
    public var initial = 0.5
    public var max = 30.0
    public var maxElapsed = 300.0
    public var maxRetryWait = 120.0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case maxAttempts = "max_attempts", initial, max, maxElapsed = "max_elapsed", maxRetryWait = "max_retry_wait"
    }
}

/// `incremental`: the API is asked for records past the stored cursor.
public struct RESTIncremental: Sendable, Hashable, Encodable {
    /// The record field (a column, flattened name) whose largest value is the cursor.
    public var cursorPath: String
    /// The query parameter (or POST body field) the cursor is sent in.
    public var param: String
    /// Sent on the first run, before any cursor is stored.
    public var initial: String?
    /// An upper bound sent in `endParam` (a closed window).
    public var end: String?
    public var endParam: String?
    /// Sent as the cursor minus this (`10m`, or a number for a numeric cursor); re-read records are
    /// then kept (deduplicate them with incremental_merge).
    public var lookback: String?

    public init(cursorPath: String, param: String) {
        self.cursorPath = cursorPath
        self.param = param
    }

    enum CodingKeys: String, CodingKey {
        case cursorPath = "cursor_path", param, initial, end, endParam = "end_param", lookback
    }
}

/// One request shape: a path, its parameters and how it pages.
public struct RESTResource: Sendable, Hashable, Encodable {
    public var method: HTTPMethodName = .get
    public var path: String = ""
    public var params: [RESTPair] = []
    /// The JSON body of a POST, as text.
    public var json: String?
    /// Where the records are in a page; nil: the first array.
    public var records: String?
    public var paginator: RESTPaginator = .none

    public init() {}

    public enum HTTPMethodName: String, Sendable, Hashable, Encodable, CaseIterable {
        case get = "GET"
        case post = "POST"
    }
}

/// `parent`: the child path is called once per parent record, with `{name}` placeholders filled
/// from the parent's fields.
public struct RESTParent: Sendable, Hashable, Encodable {
    public var resource: RESTResource
    /// Placeholder (and column) name → path in the parent record.
    public var fields: [RESTPair]
    /// Whether the parent fields become columns of the child rows (`_parent_<name>`... named by
    /// `include_prefix`).
    public var include: Bool = true
    public var includePrefix: String = "_parent_"

    public init(resource: RESTResource, fields: [RESTPair]) {
        self.resource = resource
        self.fields = fields
    }

    enum CodingKeys: String, CodingKey {
        case resource, fields, include, includePrefix = "include_prefix"
    }
}

/// The rest keys of `source.options`.
public struct RESTOptions: ConnectorOptions, Hashable {
    public var renderKey: String { "rest" }

    public var resource = RESTResource()
    public var headers: [RESTPair] = []
    public var auth: RESTAuth = .none
    public var retry = RESTRetry()
    public var onStatus: [Int: RESTStatusAction] = [:]
    /// At most `requests` per `per` seconds (a token bucket), across the source's connections.
    public var rateLimit: (requests: Int, per: Double)? {
        get { rateLimitRequests.map { ($0, rateLimitPer) } }
        set {
            rateLimitRequests = newValue?.requests
            rateLimitPer = newValue?.per ?? 1
        }
    }
    var rateLimitRequests: Int?
    var rateLimitPer: Double = 1
    public var incremental: RESTIncremental?
    public var parent: RESTParent?
    public var flatten: JSONFlatten?
    /// Records sampled to infer the schema when none is declared.
    public var inferRecords = 100
    /// A longer page fails the run (pages are held whole while they are decoded).
    public var maxPageBytes = 64 << 20
    public var timeoutSeconds = 30.0
    public var maxPages: Int?
    /// Child requests in flight at once.
    public var maxConcurrency = 4
    /// `dpone stream`: the API is polled this long after each durable checkpoint.
    public var pollInterval: Double?

    public init() {}

    /// Every secret of the options (auth values and headers that carry credentials).
    public var secrets: [String] {
        auth.secrets
            + headers.filter { ["authorization", "x-api-key", "api-key", "cookie"].contains($0.name.lowercased()) }.map(\.value)
    }

    enum CodingKeys: String, CodingKey {
        case resource, headers, auth, retry, onStatus = "on_status", rateLimitRequests = "rate_limit_requests"
        case rateLimitPer = "rate_limit_per", incremental, parent, flatten, inferRecords = "infer_records"
        case maxPageBytes = "max_page_bytes", timeoutSeconds = "timeout", maxPages = "max_pages"
        case maxConcurrency = "max_concurrency", pollInterval = "poll_interval"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(resource, forKey: .resource)
        try c.encode(headers.map { secrets.contains($0.value) ? RESTPair($0.name, "***") : $0 }, forKey: .headers)
        try c.encode(auth, forKey: .auth)
        try c.encode(retry, forKey: .retry)
        try c.encode(Dictionary(uniqueKeysWithValues: onStatus.map { (String($0.key), $0.value) }), forKey: .onStatus)
        try c.encodeIfPresent(rateLimitRequests, forKey: .rateLimitRequests)
        try c.encode(rateLimitPer, forKey: .rateLimitPer)
        try c.encodeIfPresent(incremental, forKey: .incremental)
        try c.encodeIfPresent(parent, forKey: .parent)
        try c.encodeIfPresent(flatten, forKey: .flatten)
        try c.encode(inferRecords, forKey: .inferRecords)
        try c.encode(maxPageBytes, forKey: .maxPageBytes)
        try c.encode(timeoutSeconds, forKey: .timeoutSeconds)
        try c.encodeIfPresent(maxPages, forKey: .maxPages)
        try c.encode(maxConcurrency, forKey: .maxConcurrency)
        try c.encodeIfPresent(pollInterval, forKey: .pollInterval)
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.resource == b.resource && a.headers == b.headers && a.auth == b.auth && a.retry == b.retry
            && a.onStatus == b.onStatus && a.rateLimitRequests == b.rateLimitRequests && a.rateLimitPer == b.rateLimitPer
            && a.incremental == b.incremental && a.parent == b.parent && a.flatten == b.flatten
            && a.inferRecords == b.inferRecords && a.maxPageBytes == b.maxPageBytes && a.timeoutSeconds == b.timeoutSeconds
            && a.maxPages == b.maxPages && a.maxConcurrency == b.maxConcurrency && a.pollInterval == b.pollInterval
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(resource)
        hasher.combine(auth)
        hasher.combine(incremental)
    }
}

extension SourceOptions {
    /// The rest keys (defaults for another source).
    public var rest: RESTOptions {
        get { connector(RESTOptions.self) ?? RESTOptions() }
        set { connector = AnyConnectorOptions(newValue) }
    }
}
