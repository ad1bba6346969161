/// A source, sink or state connection: how the manifest named it, and what it resolved to.
///
/// Written as `connection_ref: ID` (resolved from `DPONE_CONN_<ID>_*`), `connection: {url: ...}` or
/// `connection: {host, port, database, username, password}`. Encodes with the password masked.
public struct ConnectionConfig: Sendable, Hashable, Codable {
    /// The `connection_ref` id, or nil for an inline `connection`.
    public var reference: String?
    public var resolved: ResolvedConnection

    public init(reference: String?, resolved: ResolvedConnection) {
        self.reference = reference
        self.resolved = resolved
    }

    enum CodingKeys: String, CodingKey {
        case reference = "connection_ref"
        case resolved
    }
}
