import ConnectorKit
import Flow
import Manifest

/// The PostgreSQL connector (libpq): a table source (full, cursor or xmin; polled under
/// `dpone stream`), logical-replication CDC, a staged-table sink, and a state store.
public struct PostgresDescriptor: ConnectorDescriptor {
    public init() {}

    public var type: EndpointType { .postgres }
    public var sinkComparesRowHashes: Bool { true }
    public var changeReads: [ChangeRead] { [.xmin, .cdc] }

    public func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        let config = request.config
        if let cdc = config.options.cdc {
            guard let continuous = request.continuous else {
                throw DponeError(
                    .usage, "source.options.cdc streams changes continuously: run this manifest with dpone stream",
                    hint: "dpone batch reads postgres tables in full, by cursor or by xmin; remove cdc to use it")
            }
            return try cdcSource(config, cdc: cdc, continuous: continuous)
        }
        if let continuous = request.continuous {
            guard let interval = config.options.pollInterval else {
                try request.refuseContinuous(
                    hint: "add source.options.cdc: {slot: ..., publication: ...} to stream a table's changes, or poll_interval (with incremental_strategy: xmin or incremental_column) to re-read it")
                throw DponeError(.internal, "unreachable")
            }
            // xmin / cursor polling: the batch source, run again after each durable checkpoint.
            var bounded = request
            bounded.continuous = nil
            bounded.config.options.pollInterval = nil
            return PollingSource(try makeSource(bounded), interval: interval, mode: continuous)
        }
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
                typePolicy: Self.typePolicy(config)))
    }

    static func typePolicy(_ config: SourceConfig) -> PostgresTypes.Policy {
        switch config.options.unboundedNumeric {
        case .exact: PostgresTypes.Policy(unboundedNumeric: .exact)
        case .text: PostgresTypes.Policy(unboundedNumeric: .text)
        case .fail: PostgresTypes.Policy(unboundedNumeric: .fail)
        }
    }

    /// Logical replication of `source.table`, or of every table of `cdc.tables` on one slot (one
    /// route each).
    func cdcSource(_ config: SourceConfig, cdc: PostgresCDCOptions, continuous: ContinuousMode) throws -> any SourceOperator {
        let refs = config.options.routes.isEmpty ? config.table.map { [$0] } ?? [] : config.options.routes.map(\.table)
        guard let connection = config.connection, !refs.isEmpty else {
            throw DponeError(.manifest, "a postgres source needs a connection and a table (or cdc.tables)")
        }
        let tables = refs.map { PostgresCDCTable(schema: $0.schema ?? "public", table: $0.name) }
        var options = PostgresCDCSourceOptions(
            url: connection.resolved.url, tables: tables, slot: cdc.slot, publication: cdc.publication,
            create: cdc.create, batchRows: config.options.batchRows ?? PostgresSourceOptions.defaultBatchRows,
            typePolicy: Self.typePolicy(config), mode: continuous, snapshotParallelism: cdc.snapshotParallelism ?? 2,
            snapshotRangeBytes: Int64(cdc.snapshotRangeMB ?? 256) << 20)
        options.truncatesTarget = cdc.onTruncate == .truncateTarget
        return try PostgresCDCSource(
            name: tables.count == 1 ? "postgres-cdc:\(tables[0])" : "postgres-cdc:\(cdc.slot)", options: options)
    }

    public func makeSink(_ request: SinkRequest) throws -> any SinkOperator {
        let config = request.config
        guard let connection = config.connection, let table = config.table else {
            throw DponeError(.manifest, "a postgres sink needs a connection and a table")
        }
        let target = TableName(schema: table.schema ?? "public", name: table.name)
        var options = PostgresSinkOptions(
            url: connection.resolved.url, target: target, mode: try config.strategy.loadStrategy(for: self),
            uniqueKey: config.strategy.uniqueKey, targetAtomicState: try Self.targetAtomicTable(request),
            loadID: request.loadID, monotonicLSN: request.changeData)
        options.keepLastDuplicate = config.strategy.duplicatePolicy.map { $0 == "last" } ?? request.sourceRepeatsKeys
        options.stagesOperations = request.sourceEmitsDeletes && options.mode.isIncrementalMerge
        options.widen = config.options.widen
        options.keepDropped = config.options.keepDropped
        return PostgresSink(name: "postgres:\(target)", options: options)
    }

    public func dryRun(_ request: SinkRequest, nextCheckpoint: UInt64, columns: () async throws -> [String]) async throws -> SinkDryRun? {
        guard let table = request.config.table else { return nil }
        let target = TableName(schema: table.schema ?? "public", name: table.name)
        let staging = target.staging(loadID: request.loadID)
        let loadPlan = LoadPlan(
            target: target, staging: staging, columns: try await columns(), uniqueKey: request.config.strategy.uniqueKey,
            mode: try request.config.strategy.loadStrategy(for: self), loadTimestampSQL: "<load timestamp>")
        let ledger = TableName(schema: target.schema, name: "__dpone__loads")
        return SinkDryRun(
            staging: "UNLOGGED \(staging.sql) via COPY FROM STDIN (FORMAT binary)",
            checks: FinalizerSQL.keyChecks(loadPlan).map { "\($0.what) = 0: \($0.sql)" },
            finalizer: ["BEGIN", "SELECT ... FROM \(ledger.sql) WHERE checkpoint = \(nextCheckpoint) (a replay publishes nothing)"]
                + FinalizerSQL.steps(loadPlan).map(\.sql)
                + ["INSERT INTO \(ledger.sql) (...) VALUES (..., \(nextCheckpoint), ...)", "DROP TABLE \(staging.sql)", "COMMIT"])
    }

    // MARK: state

    public var stateType: StateType? { .postgres }

    public func makeStateStore(_ document: ManifestDocument) throws -> any StateStore {
        guard let connection = document.state.connection else {
            throw DponeError(.manifest, "a postgres state store needs a connection")
        }
        // With target_atomic the sink writes each checkpoint's row in its publish transaction and
        // says so in its commit (`SinkCommit.stateCommitted`); the coordinator then writes nothing.
        return PostgresStateStore(url: connection.resolved.url, table: Self.stateTable(document.state))
    }

    public func lockPipeline(_ document: ManifestDocument) async throws -> (any PipelineRunLock)? {
        guard let url = document.state.connection?.resolved.url else { return nil }
        return try await PostgresPipelineLock.acquire(url: url, stateTable: Self.stateTable(document.state), pipeline: document.name)
    }

    /// The backfill chunk ledger beside the state table (`__dpone__backfills`,
    /// `__dpone__backfill_chunks` in its schema): lanes on every machine claim from it.
    public func backfillLedger(_ document: ManifestDocument, id: String) throws -> (any BackfillLedger)? {
        guard let connection = document.state.connection else {
            throw DponeError(.manifest, "a postgres state store needs a connection")
        }
        return PostgresBackfillLedger(url: connection.resolved.url, stateTable: Self.stateTable(document.state), pipeline: document.name, id: id)
    }

    /// The state table of a postgres store: `state.table`, else `dpone.__dpone__state`.
    static func stateTable(_ state: StateConfig) -> TableName {
        guard let table = state.table else { return PostgresStateStore.defaultTable }
        return TableName(schema: table.schema ?? PostgresStateStore.defaultTable.schema, name: table.name)
    }

    /// With `atomicity: target_atomic`, the table the sink writes the state row into, in its own
    /// transaction. The state store must be on the sink's database.
    static func targetAtomicTable(_ request: SinkRequest) throws -> TableName? {
        guard request.state.atomicity == .targetAtomic else { return nil }
        guard let stateURL = request.state.connection?.resolved, let sinkURL = request.config.connection?.resolved,
            stateURL.host == sinkURL.host, stateURL.port == sinkURL.port, stateURL.database == sinkURL.database
        else {
            throw DponeError(
                .manifest, "atomicity target_atomic needs the state store on the sink's database (same host, port and database)",
                hint: "point state.connection_ref at the sink's connection")
        }
        return stateTable(request.state)
    }
}

extension PostgresPipelineLock: PipelineRunLock {}

extension PostgresCDCSource: KeyedRoutesSource {}

extension EndpointType {
    /// The manifest's `type: postgres`.
    public static let postgres: EndpointType = "postgres"
}
