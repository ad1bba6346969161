import Flow
import Manifest

/// What a connector module tells the engine about itself: the one seam between Pipeline and a
/// system. Pipeline holds a list of descriptors (`ConnectorRegistry`) and never switches on a
/// connector type; everything a connector knows (URL schemes, option meanings, which operator
/// serves which mode, its state store, its dry-run plan) lives in its own folder behind this.
///
/// Its manifest half (`EndpointSpec`: addressing, option keys and their typed decoder, strategy
/// capabilities, cross-section rules) is what `ManifestLoader` is handed; the rest builds operators.
///
/// Every requirement but `type` and `address` has a default: a descriptor implements only the
/// roles its system plays. The defaults refuse clearly ("not available as a source") or contribute
/// nothing.
public protocol ConnectorDescriptor: EndpointSpec {

    /// The source operator for `request` (batch, or continuous under `dpone stream`).
    func makeSource(_ request: SourceRequest) throws -> any SourceOperator
    /// The sink operator for `request`.
    func makeSink(_ request: SinkRequest) throws -> any SinkOperator
    /// What `dpone batch --dry-run` shows for this sink: staging, checks, finalizer steps. `columns`
    /// reads the staged columns (a catalog lookup or a file sample: read-only). nil: nothing to show.
    func dryRun(_ request: SinkRequest, nextCheckpoint: UInt64, columns: () async throws -> [String]) async throws -> SinkDryRun?
    /// The state store kind this system keeps (`state.type`), nil when none.
    var stateType: StateType? { get }
    /// The store for a document whose `state.type` is `stateType`.
    func makeStateStore(_ document: ManifestDocument) throws -> any StateStore
    /// The fence against a concurrent run of the pipeline, for a store of this kind.
    func lockPipeline(_ document: ManifestDocument) async throws -> (any PipelineRunLock)?
    /// The chunk ledger of backfill `id` of `document`, for a store of this kind (nil: this store
    /// keeps none).
    func backfillLedger(_ document: ManifestDocument, id: String) throws -> (any BackfillLedger)?
    /// `dpone doctor` probes of the manifest's endpoints of this type (reachability, permissions,
    /// versions, the objects the pipeline needs).
    func doctor(_ document: ManifestDocument) async -> [DoctorProbe]

    /// Whether the source applies `options.columns` and `options.custom_predicate` itself (a
    /// database pushes them into its query); when false the pipeline runs them as transforms.
    var sourceAppliesProjection: Bool { get }
    /// Whether the source repeats keys by nature (a topic): a sink's `duplicate_policy` defaults
    /// to `last`.
    var sourceRepeatsKeys: Bool { get }
    /// Whether the sink compares rows by `__dpone__row_hash` for `snapshot_diff` and `scd2` (the
    /// pipeline adds the hash when the manifest did not ask for it).
    var sinkComparesRowHashes: Bool { get }
    /// `name` quoted as an identifier in the sink's SQL (ANSI double quotes by default; BigQuery:
    /// backticks): for predicates dpone writes for the sink, such as a backfill chunk's window.
    func sqlIdentifier(_ name: String) -> String
    /// What `dpone batch --dry-run` and the run log call this endpoint.
    func describe(source: SourceConfig) -> String
    func describe(sink: SinkConfig) -> String
    /// The source section `dpone stream` runs: defaults that only continuous reading needs (a
    /// Kafka consumer group named after the pipeline).
    func forStream(_ source: SourceConfig, pipeline: String) -> SourceConfig
    /// The change reads the source offers besides full and cursor reads (`xmin`, `cdc`): what the
    /// integration matrix adds per source.
    var changeReads: [ChangeRead] { get }
    /// Change reads the system has but this build does not read yet: the matrix lists their cases,
    /// and expects them refused with the connector's own diagnostic.
    var plannedChangeReads: [ChangeRead] { get }
}

/// A way a source reads only what changed, besides an incremental column.
public enum ChangeRead: String, Sendable, Hashable, CaseIterable {
    /// PostgreSQL's transaction ids: rows written by transactions committed since the last run.
    case xmin
    /// A change stream (logical replication, SQL Server CDC), run by `dpone stream`.
    case cdc
}

extension ConnectorDescriptor {
    public func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        throw DponeError(.usage, "\(type.rawValue) is not available as a source in this build")
    }

    public func makeSink(_ request: SinkRequest) throws -> any SinkOperator {
        throw DponeError(.usage, "\(type.rawValue) is not available as a sink in this build")
    }

    public func dryRun(_ request: SinkRequest, nextCheckpoint: UInt64, columns: () async throws -> [String]) async throws -> SinkDryRun? {
        nil
    }

    public var stateType: StateType? { nil }

    public func makeStateStore(_ document: ManifestDocument) throws -> any StateStore {
        throw DponeError(.usage, "\(type.rawValue) keeps no state store")
    }

    public func lockPipeline(_ document: ManifestDocument) async throws -> (any PipelineRunLock)? { nil }
    public func backfillLedger(_ document: ManifestDocument, id: String) throws -> (any BackfillLedger)? { nil }

    public func doctor(_ document: ManifestDocument) async -> [DoctorProbe] { [] }

    public var changeReads: [ChangeRead] { [] }
    public var plannedChangeReads: [ChangeRead] { [] }
    public var sourceAppliesProjection: Bool { true }
    public var sourceRepeatsKeys: Bool { false }
    public var sinkComparesRowHashes: Bool { false }
    public func sqlIdentifier(_ name: String) -> String { BackfillPlan.ansiQuoted(name) }

    public func describe(source: SourceConfig) -> String {
        Self.describe(type, table: source.table, topic: source.topic, connection: source.connection)
    }

    public func describe(sink: SinkConfig) -> String {
        Self.describe(type, table: sink.table, topic: sink.topic, connection: sink.connection)
    }

    /// `postgres public.orders (postgresql://u:***@host/db)`.
    static func describe(_ type: EndpointType, table: TableRef?, topic: String?, connection: ConnectionConfig?) -> String {
        "\(type.rawValue) \(table.map { "\($0.schema ?? "public").\($0.name)" } ?? topic ?? "") (\(connection?.resolved.redactedURL ?? ""))"
    }

    public func forStream(_ source: SourceConfig, pipeline: String) -> SourceConfig { source }
}

/// What a source is built from.
public struct SourceRequest: Sendable {
    public var config: SourceConfig
    public var pipeline: String
    /// Set under `dpone stream`: the source runs until stopped. A source that cannot run
    /// continuously refuses it with a hint.
    public var continuous: ContinuousMode?
    /// The sink's `unique_key`: what a source's message keys identify (a Kafka tombstone's key).
    public var keyColumns: [String]

    public init(config: SourceConfig, pipeline: String, continuous: ContinuousMode? = nil, keyColumns: [String] = []) {
        self.config = config
        self.pipeline = pipeline
        self.continuous = continuous
        self.keyColumns = keyColumns
    }
}

/// What a sink is built from.
public struct SinkRequest: Sendable {
    public var config: SinkConfig
    public var pipeline: String
    public var loadID: String
    /// The pipeline's state configuration (a sink that keeps the state row in its own transaction,
    /// `atomicity: target_atomic`, reads where from it).
    public var state: StateConfig
    /// The source emits change data with monotonic positions (PostgreSQL CDC): the sink applies
    /// `cdc_apply` by them.
    public var changeData: Bool
    /// The source repeats keys by nature (a Kafka topic): `duplicate_policy` defaults to `last`.
    public var sourceRepeatsKeys: Bool
    /// The source emits delete rows (`SourceOperator.emitsDeletes`): a sink that can apply them by
    /// key (a Postgres `incremental_merge`) stages each row's operation.
    public var sourceEmitsDeletes: Bool
    /// Other pipelines publish into the same target at the same time (a backfill's chunks): the
    /// sink must not take their in-flight staging tables for leftovers of a killed run.
    public var targetShared = false

    public init(
        config: SinkConfig, pipeline: String, loadID: String, state: StateConfig = StateConfig(), changeData: Bool = false,
        sourceRepeatsKeys: Bool = false, sourceEmitsDeletes: Bool = false
    ) {
        self.config = config
        self.pipeline = pipeline
        self.loadID = loadID
        self.state = state
        self.changeData = changeData
        self.sourceRepeatsKeys = sourceRepeatsKeys
        self.sourceEmitsDeletes = sourceEmitsDeletes
    }
}

/// A sink's part of `dpone batch --dry-run`.
public struct SinkDryRun: Sendable, Equatable {
    /// Where rows are staged before they are published.
    public var staging: String
    /// Checks on the staged rows that must pass before the target is touched.
    public var checks: [String]
    /// The statements (or file operations) the finalizer runs, in order.
    public var finalizer: [String]

    public init(staging: String, checks: [String] = [], finalizer: [String]) {
        self.staging = staging
        self.checks = checks
        self.finalizer = finalizer
    }
}

/// A fence held for a whole run against a concurrent run of the same pipeline.
public protocol PipelineRunLock: Sendable {
    func release() async
}

/// A source with one route per table, each keyed by its replica identity (PostgreSQL CDC of
/// several tables on one slot).
public protocol KeyedRoutesSource: SourceOperator {
    /// Per route, in route order, the table's replica identity (or primary key) columns; nil when
    /// it has none.
    func identityKeys() async throws -> [[String]?]
}

/// One `dpone doctor` finding.
public struct DoctorProbe: Sendable, Equatable, Encodable {
    /// `info` reports without judging (a client's version).
    public enum Outcome: String, Sendable, Encodable { case ok, warning, failed, info }
    public var name: String
    public var outcome: Outcome
    public var detail: String
    /// What to do about a warning or a failure: a command, a setting, a grant.
    public var fix: String?

    public init(name: String, outcome: Outcome, detail: String, fix: String? = nil) {
        self.name = name
        self.outcome = outcome
        self.detail = detail
        self.fix = fix
    }

    /// Clock skew above which a server's clock is reported (a warning): lease ages of shared state,
    /// load timestamps and time windows compare this machine's clock with the server's.
    public static let clockSkewLimit = 2.0

    /// The skew of a server clock read between `before` and `after` (this machine's clock), at
    /// `resolution` seconds (1 for a server that gives whole seconds).
    public static func clock(
        name: String, server: Double, before: Double, after: Double, resolution: Double = 0
    ) -> DoctorProbe {
        let skew = server + resolution / 2 - (before + after) / 2
        let uncertainty = (after - before) / 2 + resolution / 2
        let detail = String(format: "%+.3f s from this machine (±%.3f s)", skew, uncertainty)
        guard abs(skew) - uncertainty > clockSkewLimit else { return DoctorProbe(name: name, outcome: .ok, detail: detail) }
        return DoctorProbe(
            name: name, outcome: .warning, detail: detail + String(format: ", more than %.0f s", clockSkewLimit),
            fix: "synchronise both clocks (chrony or systemd-timesyncd): lease ages, load timestamps and time windows compare them")
    }
}

extension SourceRequest {
    /// The refusal of a source that reads a bounded input under `dpone stream`.
    public func refuseContinuous(hint: String? = nil) throws {
        guard continuous != nil else { return }
        throw DponeError(
            .usage,
            "dpone stream reads sources that run until stopped (kafka topics, postgres tables with cdc or poll_interval); a \(config.type.rawValue) source is read with dpone batch",
            hint: hint)
    }
}
