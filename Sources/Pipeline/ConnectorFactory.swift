import ClickHouseConnector
import FilesConnector
import Formats
import Flow
import Manifest
import Operators
import PostgresConnector

/// Turns manifest sections into operators. The one place that knows which connector serves which
/// `type`; connectors that do not exist in this build fail here, before any data moves.
enum ConnectorFactory {
    static func source(_ config: SourceConfig, pipeline: String, continuous: ContinuousMode? = nil) throws -> any SourceOperator {
        if config.type == .postgres, let cdc = config.options.cdc {
            guard let continuous else {
                throw DponeError(
                    .usage, "source.options.cdc streams changes continuously: run this manifest with dpone stream",
                    hint: "dpone batch reads postgres tables in full, by cursor or by xmin; remove cdc to use it")
            }
            return try postgresCDCSource(config, cdc: cdc, continuous: continuous)
        }
        if let continuous, config.type == .postgres, let interval = config.options.pollInterval {
            // xmin / cursor polling: the batch source, run again after each durable checkpoint.
            var bounded = config
            bounded.options.pollInterval = nil
            return PollingSource(try source(bounded, pipeline: pipeline), interval: interval, mode: continuous)
        }
        if continuous != nil && config.type != .kafka {
            throw DponeError(
                .usage, "dpone stream reads kafka sources, postgres sources with cdc, and incremental postgres sources with poll_interval; a \(config.type.rawValue) source is read with dpone batch",
                hint: config.type == .postgres
                    ? "add source.options.cdc: {slot: ..., publication: ...} to stream a table's changes, or poll_interval (with incremental_strategy: xmin or incremental_column) to re-read it" : nil)
        }
        switch config.type {
        case .kafka:
            return try kafkaSource(config, pipeline: pipeline, continuous: continuous)
        case .clickhouse:
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
                    url: clickHouseURL(connection.resolved), database: table.schema ?? "default", table: table.name,
                    columns: config.options.columns, customPredicate: config.options.customPredicate, mode: mode,
                    final: final, batchRows: config.options.batchRows ?? ClickHouseSourceOptions.defaultBatchRows))
        case .postgres:
            guard let connection = config.connection, let table = config.table else {
                throw DponeError(.manifest, "a postgres source needs a connection and a table")
            }
            let mode: PostgresSourceOptions.Mode
            if config.options.incrementalStrategy == .xmin {
                mode = .xmin
            } else if let column = config.options.incrementalColumn {
                mode = .cursor(column: column, lookback: config.options.lookback)
            } else {
                mode = .full
            }
            return try PostgresSource(
                name: "postgres:\(table.schema ?? "public").\(table.name)",
                options: PostgresSourceOptions(
                    url: connection.resolved.url, schema: table.schema ?? "public", table: table.name,
                    columns: config.options.columns, customPredicate: config.options.customPredicate, mode: mode,
                    batchRows: config.options.batchRows ?? PostgresSourceOptions.defaultBatchRows,
                    typePolicy: PostgresTypes.Policy(
                        unboundedNumeric: config.options.unboundedNumeric == .text ? .text : .fail)))
        case .files:
            guard let path = config.path, let file = config.options.file else {
                throw DponeError(.manifest, "a files source needs a path")
            }
            return try FileSource(
                name: "files:\(path)",
                options: FileSourceOptions(
                    path: path,
                    format: file.format == .jsonl ? .jsonl : .csv,
                    csv: csvOptions(file),
                    schema: config.options.schema,
                    incrementalColumn: config.options.incrementalColumn,
                    batchRows: config.options.batchRows ?? 65_536,
                    batchBytes: 4 << 20))
        default:
            throw unavailable("source", config.type.rawValue)
        }
    }

    /// `monotonicLSN`: the source is PostgreSQL CDC (see `PostgresSinkOptions.monotonicLSN`).
    /// `keepLastDuplicate`: the default of `duplicate_policy` when the manifest does not set it
    /// (true for Kafka sources: a topic repeats keys by nature).
    static func sink(
        _ config: SinkConfig, pipeline: String, loadID: String, targetAtomicState: TableName? = nil, monotonicLSN: Bool = false,
        keepLastDuplicate: Bool = false
    ) throws -> any SinkOperator {
        switch config.type {
        case .kafka:
            return try kafkaSink(config, pipeline: pipeline, loadID: loadID)
        case .clickhouse:
            guard let connection = config.connection, let table = config.table else {
                throw DponeError(.manifest, "a clickhouse sink needs a connection and a table")
            }
            let target = ClickHouseTableName(database: table.schema ?? "default", name: table.name)
            let mode = try config.strategy.loadStrategy(for: config.type)
            if mode == .cdcApply, !monotonicLSN {
                throw DponeError(
                    .usage, "strategy mode cdc_apply into clickhouse applies the changes of a postgres source with options.cdc",
                    hint: "stream a postgres source with options.cdc, or use incremental_merge")
            }
            return ClickHouseSink(
                name: "clickhouse:\(target)",
                options: ClickHouseSinkOptions(
                    url: clickHouseURL(connection.resolved), target: target, mode: mode,
                    uniqueKey: config.strategy.uniqueKey, loadID: loadID))
        case .postgres:
            guard let connection = config.connection, let table = config.table else {
                throw DponeError(.manifest, "a postgres sink needs a connection and a table")
            }
            let target = TableName(schema: table.schema ?? "public", name: table.name)
            var options = PostgresSinkOptions(
                url: connection.resolved.url, target: target, mode: try config.strategy.loadStrategy(for: config.type),
                uniqueKey: config.strategy.uniqueKey, targetAtomicState: targetAtomicState, loadID: loadID,
                monotonicLSN: monotonicLSN)
            options.keepLastDuplicate = config.strategy.duplicatePolicy.map { $0 == "last" } ?? keepLastDuplicate
            return PostgresSink(name: "postgres:\(target)", options: options)
        case .files:
            guard let path = config.path, let file = config.options.file else {
                throw DponeError(.manifest, "a files sink needs a path")
            }
            return try FileSink(
                name: "files:\(path)",
                options: FileSinkOptions(
                    path: path, format: file.format == .jsonl ? .jsonl : .csv, csv: csvOptions(file),
                    strategy: config.strategy.mode))
        default:
            throw unavailable("sink", config.type.rawValue)
        }
    }

    /// The transform chain: source column allowlist and predicate, the manifest's transforms, then
    /// the sink's lineage and row-hash columns.
    static func transforms(_ document: ManifestDocument, loadID: String, loadedAt: Int64) throws -> [any BatchTransform] {
        var chain: [any BatchTransform] = []
        // A files source has no query language: its allowlist and predicate run as transforms. A
        // database source pushes them into its query.
        if document.source.type == .files {
            if let columns = document.source.options.columns { chain.append(Project(keeping: columns)) }
            if let predicate = document.source.options.customPredicate { chain.append(try Filter(parsing: predicate)) }
        }
        for t in document.transforms {
            switch t {
            case .rename(let pairs):
                chain.append(Renaming(pairs: pairs.map { ($0.from, $0.to) }))
            case .select(let columns):
                chain.append(Project(keeping: columns))
            case .cast(let casts, let allowLossy):
                chain.append(
                    Cast(columns: Dictionary(casts.map { ($0.column, $0.type) }, uniquingKeysWith: { $1 }),
                         allowLossy: allowLossy))
            case .filter(let predicate):
                chain.append(try Filter(parsing: predicate))
            }
        }
        // snapshot_diff and scd2 compare rows by their hash: the pipeline adds it when not asked to.
        let needsHash =
            [.snapshotDiff, .scd2].contains(document.sink.strategy.mode)
            && (document.sink.type == .postgres || document.sink.type == .clickhouse)
        if document.sink.options.rowHash || needsHash { chain.append(RowHash()) }
        if document.sink.options.lineage { chain.append(LineageColumns(loadID: loadID, loadedAtMicroseconds: loadedAt)) }
        return chain
    }

    /// A postgres source with `cdc` (dpone stream): logical replication of `source.table`, or of
    /// every table of `cdc.tables` on one slot (one route each).
    static func postgresCDCSource(_ config: SourceConfig, cdc: PostgresCDCOptions, continuous: ContinuousMode) throws
        -> any SourceOperator
    {
        let refs = cdc.tables.isEmpty ? config.table.map { [$0] } ?? [] : cdc.tables.map(\.table)
        guard let connection = config.connection, !refs.isEmpty else {
            throw DponeError(.manifest, "a postgres source needs a connection and a table (or cdc.tables)")
        }
        let tables = refs.map { PostgresCDCTable(schema: $0.schema ?? "public", table: $0.name) }
        return try PostgresCDCSource(
            name: tables.count == 1 ? "postgres-cdc:\(tables[0])" : "postgres-cdc:\(cdc.slot)",
            options: PostgresCDCSourceOptions(
                url: connection.resolved.url, tables: tables, slot: cdc.slot, publication: cdc.publication,
                create: cdc.create, batchRows: config.options.batchRows ?? PostgresSourceOptions.defaultBatchRows,
                typePolicy: PostgresTypes.Policy(unboundedNumeric: config.options.unboundedNumeric == .text ? .text : .fail),
                mode: continuous, snapshotParallelism: cdc.snapshotParallelism ?? 2,
                snapshotRangeBytes: Int64(cdc.snapshotRangeMB ?? 256) << 20))
    }

    /// ClickHouse speaks HTTP: a `clickhouse://` URL built from connection parts becomes `http://`.
    static func clickHouseURL(_ connection: ResolvedConnection) -> String {
        let url = connection.url
        if url.hasPrefix("clickhouse://") { return "http://" + url.dropFirst("clickhouse://".count) }
        if url.hasPrefix("clickhouses://") { return "https://" + url.dropFirst("clickhouses://".count) }
        return url
    }

    static func csvOptions(_ file: FileOptions) -> CSVOptions {
        CSVOptions(
            delimiter: file.delimiter.asciiValue ?? UInt8(ascii: ","),
            quote: file.quote.asciiValue ?? UInt8(ascii: "\""),
            nullToken: file.nullToken,
            hasHeader: file.header)
    }

    static func unavailable(_ role: String, _ type: String) -> DponeError {
        DponeError(
            .usage, "\(role) type '\(type)' is not available in this build yet",
            hint: "this build moves data between local files (type: files)")
    }
}

/// Renames some columns and keeps every other column in place.
struct Renaming: BatchTransform {
    let pairs: [(String, String)]
    var name: String { "rename" }

    func project(_ input: Schema) -> Project {
        let map = Dictionary(pairs, uniquingKeysWith: { $1 })
        return Project(columns: input.names.map { (source: $0, target: map[$0] ?? $0) })
    }

    func outputSchema(for input: Schema) throws -> Schema {
        for (from, _) in pairs where input.index(of: from) == nil {
            throw DponeError(
                .schema, "cannot rename unknown column '\(from)'",
                context: ["available": input.names.joined(separator: ", ")])
        }
        return try project(input).outputSchema(for: input)
    }

    func apply(_ batch: Batch) throws -> Batch { try project(batch.schema).apply(batch) }
}
