import ConnectorKit
import Flow
import Foundation
import Manifest

/// The source → sink → strategy matrix of the integration-test page: 5 source systems × 5 sink
/// systems, with the strategies each pair has, 200 cases named `<source>_to_<sink>__<strategy>`.
///
/// The cases come from the connector registry's capabilities, not from a list:
/// - every pair gets the four base strategies and `snapshot_diff`;
/// - a pair whose sink addresses tables (a database) gets `partition_replace`, `scd2` and `backfill`;
/// - a source's change reads (`ConnectorDescriptor.changeReads`, and the planned ones) add one case
///   per sink each (`xmin`, `cdc`).
///
/// A case is a manifest (`MatrixManifest`); what each one does, run or refusal, is what the
/// contract layer (`MatrixContract`) records.
public enum IntegrationMatrix {
    /// The systems of the matrix, in the page's order.
    public static let sourceSystems: [EndpointType] = ["postgres", "mssql", "clickhouse", "rest", "kafka"]
    public static let sinkSystems: [EndpointType] = ["mssql", "postgres", "clickhouse", "bigquery", "kafka"]

    /// Every case, in a stable order (by source, then sink, then strategy).
    public static func cases(connectors: [any ConnectorDescriptor] = ConnectorRegistry.all) -> [MatrixCase] {
        func descriptor(_ type: EndpointType) -> (any ConnectorDescriptor)? { connectors.first { $0.type == type } }
        var cases: [MatrixCase] = []
        for source in sourceSystems {
            guard let sourceDescriptor = descriptor(source), sourceDescriptor.roles.contains(.source) else { continue }
            let changeReads = ChangeRead.allCases.filter {
                sourceDescriptor.changeReads.contains($0) || sourceDescriptor.plannedChangeReads.contains($0)
            }
            for sink in sinkSystems {
                guard let sinkDescriptor = descriptor(sink), sinkDescriptor.roles.contains(.sink) else { continue }
                var strategies: [MatrixStrategy] = [.fullRefresh, .incrementalAppend, .incrementalMerge, .replace, .snapshotDiff]
                if sinkDescriptor.address == .table { strategies += [.partitionReplace, .scd2, .backfill] }
                strategies += changeReads.map { $0 == .xmin ? MatrixStrategy.xmin : .cdc }
                cases += strategies.map { MatrixCase(source: source, sink: sink, strategy: $0) }
            }
        }
        return cases
    }

    /// The cases a filter keeps: any of `sources`, `sinks`, `strategies`, `ids` (empty: all).
    public static func select(
        _ cases: [MatrixCase], sources: [String] = [], sinks: [String] = [], strategies: [String] = [], ids: [String] = []
    ) -> [MatrixCase] {
        cases.filter { c in
            (sources.isEmpty || sources.contains(c.source.rawValue)) && (sinks.isEmpty || sinks.contains(c.sink.rawValue))
                && (strategies.isEmpty || strategies.contains(c.strategy.rawValue)) && (ids.isEmpty || ids.contains(c.id))
        }
    }

    /// The filter in `DPONE_MATRIX_SOURCE`, `_SINK`, `_STRATEGY`, `_CASE` (comma-separated), as
    /// `scripts/matrix.sh` sets it.
    public static func select(_ cases: [MatrixCase], environment: [String: String]) -> [MatrixCase] {
        func list(_ key: String) -> [String] {
            (environment[key] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return select(
            cases, sources: list("DPONE_MATRIX_SOURCE"), sinks: list("DPONE_MATRIX_SINK"), strategies: list("DPONE_MATRIX_STRATEGY"),
            ids: list("DPONE_MATRIX_CASE"))
    }
}

/// A strategy column of the matrix: a sink load mode, or a source change read applied by key.
public enum MatrixStrategy: String, Sendable, Hashable, CaseIterable, Codable {
    case fullRefresh = "full_refresh"
    case incrementalAppend = "incremental_append"
    case incrementalMerge = "incremental_merge"
    case replace
    case snapshotDiff = "snapshot_diff"
    case partitionReplace = "partition_replace"
    case scd2
    case backfill
    /// PostgreSQL xmin reads merged by key.
    case xmin
    /// A change stream applied by key (`dpone stream`, `cdc_apply`).
    case cdc

    /// The sink's load mode for this column.
    public var mode: LoadMode {
        switch self {
        case .fullRefresh: .fullRefresh
        case .incrementalAppend: .incrementalAppend
        case .incrementalMerge, .xmin: .incrementalMerge
        case .replace: .replace
        case .snapshotDiff: .snapshotDiff
        case .partitionReplace: .partitionReplace
        case .scd2: .scd2
        case .backfill: .backfill
        case .cdc: .cdcApply
        }
    }

    /// Whether the source reads only what changed since the last run (a partial read).
    public var readsIncrementally: Bool { self == .incrementalAppend || self == .incrementalMerge }

    /// Whether the case runs under `dpone stream`.
    public var streams: Bool { self == .cdc }
}

/// One case: `<source>_to_<sink>__<strategy>`.
public struct MatrixCase: Sendable, Hashable, Codable, CustomStringConvertible {
    public var source: EndpointType
    public var sink: EndpointType
    public var strategy: MatrixStrategy

    public init(source: EndpointType, sink: EndpointType, strategy: MatrixStrategy) {
        self.source = source
        self.sink = sink
        self.strategy = strategy
    }

    public var id: String { "\(source.rawValue)_to_\(sink.rawValue)__\(strategy.rawValue)" }
    public var description: String { id }
}
