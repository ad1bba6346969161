import Flow

/// A role a connector plays in a manifest.
public enum EndpointRole: String, Sendable, Hashable, CaseIterable {
    case source, sink
}

/// What names the data of an endpoint in a manifest, besides its connection.
public enum EndpointAddress: Sendable, Hashable {
    /// `path` (a file or directory); no connection.
    case path
    /// `table: {schema, name}` (a database).
    case table
    /// `topic` (a log).
    case topic
    /// Nothing but the connection (an API).
    case connection
}

/// What a connector tells the manifest decoder: the manifest half of a connector descriptor.
///
/// The decoder reads only the shared fields (`type`, the connection, `path` / `table` / `topic`,
/// `strategy`, `state`, `transforms` and the shared option keys) and hands each endpoint's
/// `options` to its spec, which decodes its own keys into a typed value (`ConnectorOptions`) and
/// reports `file:line:column` errors through the same `DecodingContext`.
///
/// Every requirement but `type` and `address` has a default.
public protocol EndpointSpec: Sendable {
    var type: EndpointType { get }
    /// The roles the connector plays; default both.
    var roles: Set<EndpointRole> { get }
    var address: EndpointAddress { get }
    /// The URL scheme a connection assembled from parts gets; nil for an endpoint without one.
    var urlScheme: String? { get }
    /// Whether its `path` / `table` / `topic` must be given (false: an option can stand in for
    /// it, as a query for a table).
    var addressRequired: Bool { get }
    /// A key of `connection` holding a driver connection string, taken as it is (`odbc:
    /// "Driver=...;..."`); nil when it has none.
    var connectionStringKey: String? { get }

    /// The `source.options` keys it reads beyond the shared ones (`SourceOptions.sharedKeys`), or
    /// nil to keep every other key, untyped, in `options.extra` (a connector not built yet).
    var sourceOptionKeys: [String]? { get }
    /// The `sink.options` keys it reads beyond the shared ones (`SinkOptions.sharedKeys`); nil as above.
    var sinkOptionKeys: [String]? { get }
    /// Decodes the connector's own `source.options` keys into `source` (its `options.connector`,
    /// `routes` or `extra`). Called with a nil mapping when the manifest has no options.
    func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig)
    /// Decodes the connector's own `sink.options` keys into `sink` (strategy already decoded).
    func decodeSinkOptions(_ options: OptionsReader, into sink: inout SinkConfig)
    /// The key under `source.options` listing several tables (routes) on one source, when the
    /// manifest uses it (`cdc.tables`), else nil. Read before decoding, so the sink knows.
    func routesKey(_ options: NodeRef?) -> String?

    /// The load modes it supports as a sink, in `LoadMode.allCases` order.
    var supportedModes: [LoadMode] { get }
    /// Its `incremental_merge` policies, default first (empty: no `merge_policy`).
    var mergePolicies: [MergePolicy] { get }
    /// Whether it can keep the last of a key staged twice (`duplicate_policy: last`).
    var keepsLastDuplicate: Bool { get }
    /// Whether it can write the state row in its own publish transaction (`atomicity: target_atomic`).
    var holdsTargetAtomicState: Bool { get }
    /// Whether, as a sink with `strategy`, it applies the delete rows a source sends (a Kafka
    /// tombstone, an envelope's delete event). A source that sends them into a sink that cannot is
    /// refused at validation, not at the first delete.
    func appliesDeletes(_ strategy: StrategyConfig) -> Bool
    /// The `source.options` key that makes this source send delete rows, when the manifest sets it.
    func deleteSendingOption(_ source: SourceConfig) -> String?
    /// Whether the source can read any range of rows again, as each chunk of a backfill does (a
    /// database, files, an API). A topic cannot: its reads consume it.
    var rereadsRanges: Bool { get }

    /// Why this source reads only part of its data on a run after the first (beyond an
    /// `incremental_column`, which the decoder knows), or nil.
    func partialRead(_ source: SourceConfig, _ document: DocumentReader) -> PartialRead?
    /// Rules spanning sections for this endpoint in `role` (a source option that needs a strategy
    /// mode). Reports through `document` and returns false on the first broken rule.
    func validate(_ manifest: ManifestDocument, as role: EndpointRole, _ document: DocumentReader) -> Bool
}

extension EndpointSpec {
    public var roles: Set<EndpointRole> { [.source, .sink] }
    public var urlScheme: String? { type.rawValue }
    public var addressRequired: Bool { true }
    public var connectionStringKey: String? { nil }
    public var sourceOptionKeys: [String]? { [] }
    public var sinkOptionKeys: [String]? { [] }
    public func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {}
    public func decodeSinkOptions(_ options: OptionsReader, into sink: inout SinkConfig) {}
    public func routesKey(_ options: NodeRef?) -> String? { nil }
    public var supportedModes: [LoadMode] { [] }
    public var mergePolicies: [MergePolicy] { [] }
    public var keepsLastDuplicate: Bool { false }
    public var holdsTargetAtomicState: Bool { false }
    public func appliesDeletes(_ strategy: StrategyConfig) -> Bool { false }
    public func deleteSendingOption(_ source: SourceConfig) -> String? { nil }
    public var rereadsRanges: Bool { true }
    public func partialRead(_ source: SourceConfig, _ document: DocumentReader) -> PartialRead? { nil }
    public func validate(_ manifest: ManifestDocument, as role: EndpointRole, _ document: DocumentReader) -> Bool { true }

    /// The policy a manifest's `merge_policy` (nil: not given) means for this sink.
    public func mergePolicy(_ given: MergePolicy?) -> MergePolicy? { given ?? mergePolicies.first }

    public func supports(_ mode: LoadMode) -> Bool { supportedModes.contains(mode) }
}

/// Why a source reads only part of its data on a run after the first: what a strategy that removes
/// unread rows would be refused with.
public struct PartialRead {
    /// "incremental_strategy 'xmin' reads only rows written since the last run".
    public var what: String
    /// What to write instead: "drop incremental_strategy".
    public var fix: String
    /// The node to point at (nil: the source mapping).
    public var at: NodeRef?

    public init(what: String, fix: String, at: NodeRef?) {
        self.what = what
        self.fix = fix
        self.at = at
    }
}

/// A connector's typed `options` (what only it knows: a file layout, Kafka settings, replication).
/// Stored in `SourceOptions.connector` / `SinkOptions.connector`; rendered under `renderKey`.
public protocol ConnectorOptions: Sendable, Encodable {
    /// The key `dpone manifest render` shows the value under (`file`, `kafka`, `postgres`).
    var renderKey: String { get }
    func isEqual(to other: any ConnectorOptions) -> Bool
    func hash(into hasher: inout Hasher)
}

extension ConnectorOptions where Self: Hashable {
    public func isEqual(to other: any ConnectorOptions) -> Bool { (other as? Self) == self }
}

/// A `ConnectorOptions` value with value equality, so the configurations holding one stay `Hashable`.
public struct AnyConnectorOptions: Sendable, Hashable, Encodable {
    public let value: any ConnectorOptions

    public init(_ value: any ConnectorOptions) { self.value = value }

    public static func == (a: Self, b: Self) -> Bool { a.value.isEqual(to: b.value) }
    public func hash(into hasher: inout Hasher) { value.hash(into: &hasher) }
    public func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

/// A connector's `options` mapping while its spec decodes it.
public struct OptionsReader {
    public let ctx: DecodingContext
    /// The `options` mapping; nil when the manifest has none.
    public let map: MappingReader?
    /// The source or sink mapping the options belong to.
    public let endpoint: MappingReader

    public subscript(_ key: String) -> NodeRef? { map?[key] }
}

/// The whole manifest while cross-section rules are checked.
public struct DocumentReader {
    public let ctx: DecodingContext
    let root: MappingReader

    /// The node at `path` (`["source", "options", "cdc"]`) through mappings, without reporting
    /// anything; nil when absent.
    public func node(_ path: String...) -> NodeRef? { root.ref.peek(path) }

    /// Reports `message` at the node at `path`, or at the deepest present node above it.
    public func fail(_ path: [String], _ message: String, hint: String? = nil) {
        var at = root.ref
        for depth in stride(from: path.count, through: 1, by: -1) {
            if let ref = root.ref.peek(Array(path.prefix(depth))) {
                at = ref
                break
            }
        }
        ctx.fail(at, message, hint: hint)
    }
}
