/// A ClickHouse version as `SELECT version()` prints it (`18.16.1`, `26.9.2.1`), compared by number.
public struct ClickHouseVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let patch: Int
    /// The text the server printed.
    public let text: String

    public init(major: Int, minor: Int, patch: Int = 0) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.text = "\(major).\(minor).\(patch)"
    }

    /// Parses `major.minor[.patch[.build]]` (anything after the numbers, e.g. `-testing`, ignored).
    public init?(_ text: String) {
        let trimmed = text.strippingWhitespace()
        let numbers = trimmed.split(separator: ".").map { Int($0.prefix(while: \.isNumber)) }
        guard numbers.count >= 2, let major = numbers[0], let minor = numbers[1] else { return nil }
        self.major = major
        self.minor = minor
        self.patch = numbers.count > 2 ? numbers[2] ?? 0 : 0
        self.text = trimmed
    }

    public var description: String { text }

    public static func < (a: Self, b: Self) -> Bool { (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch) }
    public static func == (a: Self, b: Self) -> Bool { (a.major, a.minor, a.patch) == (b.major, b.minor, b.patch) }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
    }
}

/// A server feature dpone generates different SQL for, with the first version that has it.
///
/// Thresholds (first feature release; the SQL generator asks `ClickHouseServerInfo.supports`):
/// | capability | since | what changes |
/// | --- | --- | --- |
/// | dateTime64 | 20.1 | `DateTime64(6)` columns; older servers need an explicit policy for µs |
/// | bool | 21.12 | `Bool` columns; older servers use `UInt8` |
/// | exchangeTables | 21.8 | `EXCHANGE TABLES a AND b` (Atomic databases, the default since 20.10); else `RENAME` swap |
/// | lightweightDelete | 22.8 | `DELETE FROM t WHERE ...` (experimental in 22.8, GA in 23.3); else `ALTER TABLE ... DELETE` |
/// | queryParameters | 19.11 | `{name:Type}` placeholders with `param_name=` URL parameters |
/// | replacingWithIsDeleted | 23.2 | `ReplacingMergeTree(version, is_deleted)` |
/// | multiStatement | never | the HTTP interface runs one statement per request on every version |
public enum ClickHouseCapability: String, Sendable, CaseIterable, CustomStringConvertible {
    case dateTime64
    case bool
    case exchangeTables
    case lightweightDelete
    case queryParameters
    case replacingWithIsDeleted
    case multiStatement

    /// The first version with the capability; nil when no version has it (over HTTP).
    public var minimumVersion: ClickHouseVersion? {
        switch self {
        case .dateTime64: ClickHouseVersion(major: 20, minor: 1)
        case .bool: ClickHouseVersion(major: 21, minor: 12)
        case .exchangeTables: ClickHouseVersion(major: 21, minor: 8)
        case .lightweightDelete: ClickHouseVersion(major: 22, minor: 8)
        case .queryParameters: ClickHouseVersion(major: 19, minor: 11)
        case .replacingWithIsDeleted: ClickHouseVersion(major: 23, minor: 2)
        case .multiStatement: nil
        }
    }

    public var description: String {
        switch self {
        case .dateTime64: "DateTime64"
        case .bool: "Bool"
        case .exchangeTables: "EXCHANGE TABLES"
        case .lightweightDelete: "lightweight DELETE"
        case .queryParameters: "query parameters"
        case .replacingWithIsDeleted: "ReplacingMergeTree(version, is_deleted)"
        case .multiStatement: "multi-statement requests"
        }
    }
}

/// What a connected server is and can do, from `SELECT version()`.
public struct ClickHouseServerInfo: Sendable, Equatable, CustomStringConvertible {
    public let version: ClickHouseVersion
    public let capabilities: Set<ClickHouseCapability>
    /// The endpoint, redacted, for messages.
    public let server: String

    public init(version: ClickHouseVersion, server: String = "") {
        self.version = version
        self.server = server
        self.capabilities = Set(
            ClickHouseCapability.allCases.filter { cap in cap.minimumVersion.map { version >= $0 } ?? false })
    }

    public func supports(_ capability: ClickHouseCapability) -> Bool { capabilities.contains(capability) }

    /// Throws a `ClickHouseError` (kind `.client`) naming `feature`, the missing capability, the
    /// version that has it and this server's version, when the server lacks `capability`.
    public func require(_ capability: ClickHouseCapability, for feature: String) throws {
        guard !supports(capability) else { return }
        let needs =
            capability.minimumVersion.map { "ClickHouse \($0.major).\($0.minor) or later" }
            ?? "a capability no ClickHouse version offers over HTTP"
        throw ClickHouseError(
            kind: .client,
            message: "\(feature) needs \(capability) (\(needs)); the server runs ClickHouse \(version)",
            server: server.isEmpty ? nil : server,
            hint: "choose an option that does not need \(capability), or upgrade the server")
    }

    public var description: String {
        let caps = ClickHouseCapability.allCases.filter(supports).map(\.rawValue).joined(separator: ", ")
        return "ClickHouse \(version) [\(caps.isEmpty ? "no optional capabilities" : caps)]"
    }
}
