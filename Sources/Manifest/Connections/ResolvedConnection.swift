/// A connection with every `${VAR}` and `connection_ref` resolved.
///
/// `url` carries the password; everything a human can see — `description`, `debugDescription`,
/// `dump`/`Mirror` and the encoded (rendered) form — shows `redactedURL` and `***` instead.
public struct ResolvedConnection: Sendable, Hashable, Codable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// The full connection URL, password included. Never log or print it.
    public let url: String
    /// `url` with the password (userinfo and `password=`/`pwd=` parameters) replaced by `***`.
    public let redactedURL: String
    public let scheme: String?
    /// Host, or a comma-separated host list (Kafka bootstrap servers).
    public let host: String?
    public let port: Int?
    public let database: String?
    public let username: String?
    /// The password, percent-decoded. Never log or print it.
    public let password: String?

    /// Reads the parts of `url`.
    public init(url: String) {
        let parsed = ConnectionURL.parse(url)
        self.url = url
        self.redactedURL = ConnectionURL.redact(url)
        self.scheme = parsed.scheme
        self.host = parsed.host
        self.port = parsed.port
        self.database = parsed.database
        self.username = parsed.username
        self.password = parsed.password
    }

    /// Assembles `scheme://user:password@host:port/database` from parts (user and password percent-encoded).
    public init(scheme: String, host: String, port: Int?, database: String?, username: String?, password: String?) {
        let url = ConnectionURL.build(
            scheme: scheme, host: host, port: port, database: database, username: username, password: password)
        self.url = url
        self.redactedURL = ConnectionURL.redact(url)
        self.scheme = scheme
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
    }

    public var description: String { redactedURL }
    public var debugDescription: String { "ResolvedConnection(\(redactedURL))" }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "redactedURL": redactedURL, "scheme": scheme as Any, "host": host as Any, "port": port as Any,
                "database": database as Any, "username": username as Any,
                "password": (password == nil ? nil : "***") as Any,
            ], displayStyle: .struct)
    }

    enum CodingKeys: String, CodingKey {
        case url, scheme, host, port, database, username, password
    }

    /// Encodes the redacted form: `url` is `redactedURL`, `password` is `***` when set.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(redactedURL, forKey: .url)
        try c.encodeIfPresent(scheme, forKey: .scheme)
        try c.encodeIfPresent(host, forKey: .host)
        try c.encodeIfPresent(port, forKey: .port)
        try c.encodeIfPresent(database, forKey: .database)
        try c.encodeIfPresent(username, forKey: .username)
        try c.encodeIfPresent(password == nil ? nil : "***", forKey: .password)
    }

    /// Reads an encoded connection from its `url` (a rendered manifest yields the redacted connection).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(url: try c.decode(String.self, forKey: .url))
    }
}
