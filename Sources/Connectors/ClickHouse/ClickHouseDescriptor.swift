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
