import ConnectorKit
import Flow
import Manifest

/// The ClickHouse connector (HTTP interface; 18.16 and modern servers): a table source read in
/// Native format, and a staged-table sink.
public struct ClickHouseDescriptor: ConnectorDescriptor {
    public init() {}

    public var type: EndpointType { .clickhouse }
    public var sinkComparesRowHashes: Bool { true }

    public func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        try request.refuseContinuous()
        let config = request.config
        guard let connection = config.connection, let table = config.table else {
            throw DponeError(.manifest, "a clickhouse source needs a connection and a table")
        }
        let mode: ClickHouseSourceOptions.Mode =
            config.options.incrementalColumn.map { .cursor(column: $0, lookback: config.options.lookback) } ?? .full
        let final: Bool
        if case .bool(let b)? = config.options.extra["final"] { final = b } else { final = false }
        return try ClickHouseSource(
            name: "clickhouse:\(table.schema ?? "default").\(table.name)",
            options: ClickHouseSourceOptions(
                url: Self.httpURL(connection.resolved), database: table.schema ?? "default", table: table.name,
                columns: config.options.columns, customPredicate: config.options.customPredicate, mode: mode,
                final: final, batchRows: config.options.batchRows ?? ClickHouseSourceOptions.defaultBatchRows))
    }

    /// `dpone batch --dry-run`: staging, checks and the statements of the strategy as an 18.16 server
    /// runs them (ALTER mutations, a RENAME swap); newer servers use lightweight DELETE and EXCHANGE
    /// TABLES where they have them.
    public func dryRun(_ request: SinkRequest, nextCheckpoint: UInt64, columns: () async throws -> [String]) async throws -> SinkDryRun? {
        guard let sink = try makeSink(request) as? ClickHouseSink else { return nil }
        let options = sink.options
        guard options.mode != .cdcApply else {
            return SinkDryRun(
                staging: "\(sink.staging.sql) via INSERT ... FORMAT Native (with __dpone__op and __dpone__seq)",
                finalizer: ["per staged key above the applied lsn: the last event, inserted as a new version (ReplacingMergeTree) or a delete marker"])
        }
        let plan = ClickHousePublishPlan(
            target: options.target, staging: sink.staging, publish: sink.publishTable, displaced: sink.displaced, columns: try await columns(),
            uniqueKey: options.uniqueKey, mode: options.mode,
            technicalColumns: ClickHouseTargetShape.technicalColumns(for: options.mode, support: ClickHouseTypeSupport.legacy).map(\.name)
                .filter { $0 == TechnicalColumns.checkpoint || $0 == TechnicalColumns.version },
            nullableRequiredColumns: options.mode.matchesByKey ? options.uniqueKey : [])
        let n = nextCheckpoint
        let statements: [String]
        switch options.mode {
        case .fullRefresh:
            statements = plan.createLikeTarget(plan.publish) + [plan.tagInsert(into: plan.publish, checkpoint: n)] + plan.swap(exchange: false)
        case .incrementalAppend:
            statements = [plan.countTagged(n), plan.appendInsert(n)]
        case .incrementalMerge(let policy):
            var steps = [plan.mergeUpdatedCount(n)]
            switch policy {
            case .mutationDeleteInsert: steps += [plan.mergeDelete(), plan.tagInsert(into: plan.target, checkpoint: n)]
            case .shadowSwap:
                steps += plan.createLikeTarget(plan.publish) + [plan.shadowCopyUnmerged(), plan.tagInsert(into: plan.publish, checkpoint: n)]
                    + plan.swap(exchange: false)
            default: steps.append(plan.tagInsert(into: plan.target, checkpoint: n))
            }
            statements = steps
        case .partitionReplace:
            statements = plan.createLikeTarget(plan.publish) + [
                plan.tagInsert(into: plan.publish, checkpoint: n), plan.partitionIDs(of: plan.publish), plan.replacePartition("<each partition id>"),
            ]
        case .replace(let predicate):
            statements = [plan.replaceWindowCount(predicate), plan.replaceDelete(predicate), plan.appendInsert(n)]
        case .snapshotDiff, .scd2:
            statements = [plan.diffCounts()] + plan.diffMutations(ts: "<load timestamp>") + [plan.diffInsert(n, ts: "<load timestamp>")]
        case .cdcApply:
            statements = []
        }
        return SinkDryRun(
            staging: "\(sink.staging.sql) via INSERT ... FORMAT Native",
            checks: plan.checks().map { "\($0.what) = 0: \($0.sql)" },
            finalizer: ["SELECT ... FROM \(options.ledger.sql) WHERE checkpoint = \(n) (a replay publishes nothing)"] + statements
                + ["INSERT INTO \(options.ledger.sql) (...) VALUES (..., \(n), ...)", "DROP TABLE IF EXISTS \(sink.staging.sql)"])
    }

    public func makeSink(_ request: SinkRequest) throws -> any SinkOperator {
        let config = request.config
        guard let connection = config.connection, let table = config.table else {
            throw DponeError(.manifest, "a clickhouse sink needs a connection and a table")
        }
        let target = ClickHouseTableName(database: table.schema ?? "default", name: table.name)
        let mode = try config.strategy.loadStrategy(for: self)
        if mode == .cdcApply, !request.changeData {
            throw DponeError(
                .usage, "strategy mode cdc_apply into clickhouse applies the changes of a postgres source with options.cdc",
                hint: "stream a postgres source with options.cdc, or use incremental_merge")
        }
        var options = ClickHouseSinkOptions(
            url: Self.httpURL(connection.resolved), target: target, mode: mode, uniqueKey: config.strategy.uniqueKey,
            loadID: request.loadID)
        options.widen = config.options.widen
        options.keepDropped = config.options.keepDropped
        options.dropsLeftovers = !request.targetShared
        return ClickHouseSink(name: "clickhouse:\(target)", options: options)
    }

    /// ClickHouse speaks HTTP: a `clickhouse://` URL built from connection parts becomes `http://`.
    static func httpURL(_ connection: ResolvedConnection) -> String {
        let url = connection.url
        if url.hasPrefix("clickhouse://") { return "http://" + url.dropFirst("clickhouse://".count) }
        if url.hasPrefix("clickhouses://") { return "https://" + url.dropFirst("clickhouses://".count) }
        return url
    }
}

extension EndpointType {
    /// The manifest's `type: clickhouse`.
    public static let clickhouse: EndpointType = "clickhouse"
}
