/// The system a source reads from or a sink writes to: the manifest's `type`.
///
/// A name, not a closed list: what a type means (its addressing, options, strategies) comes from
/// the connector that serves it (`EndpointSpec`), so a new system is a new connector folder, not a
/// new case here. Each connector module names its own (`EndpointType.postgres` comes with
/// PostgresConnector).
public struct EndpointType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ name: String) { self.rawValue = name }
    public init(stringLiteral value: String) { self.rawValue = value }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
}
