import ConnectorKit
import Flow
import Foundation
import Manifest

/// The BigQuery sink: load jobs into an attempt-local staging table, published by one
/// multi-statement transaction per checkpoint. `table.schema` is the dataset.
///
/// ```yaml
/// sink:
///   type: bigquery
///   connection: {url: "bigquery://my-project?location=EU"}
///   table: {schema: analytics, name: orders}
///   strategy: {mode: incremental_merge, unique_key: [id]}
///   options: {credentials_file: /secrets/sa.json}
/// ```
///
/// `BIGQUERY_EMULATOR_HOST=host:port` sends every request to an emulator over HTTP, as Google's
/// clients do.
public struct BigQueryDescriptor: ConnectorDescriptor {
    public init() {}

    public var type: EndpointType { .bigquery }
    public var roles: Set<EndpointRole> { [.sink] }
    public var address: EndpointAddress { .table }
    public var urlScheme: String? { "bigquery" }
    public var sinkOptionKeys: [String]? { BigQuerySettings.keys }
    /// Every strategy but cdc_apply.
    public var supportedModes: [LoadMode] {
        [.fullRefresh, .incrementalAppend, .incrementalMerge, .replace, .partitionReplace, .snapshotDiff, .scd2, .backfill]
    }
    public var mergePolicies: [MergePolicy] { [.deleteInsert, .upsert] }
    public var keepsLastDuplicate: Bool { true }
    public var holdsTargetAtomicState: Bool { true }
    /// incremental_merge (it stages each row's operation when the source sends deletes).
    public func appliesDeletes(_ strategy: StrategyConfig) -> Bool { strategy.mode == .incrementalMerge }
    public var sinkComparesRowHashes: Bool { true }
    public func sqlIdentifier(_ name: String) -> String { BigQuerySQL.quote(name) }

    public func decodeSinkOptions(_ options: OptionsReader, into sink: inout SinkConfig) {
        if let settings = BigQuerySettings.decode(options) { sink.options.connector = AnyConnectorOptions(settings) }
    }

    public func describe(sink: SinkConfig) -> String {
        let project = (try? Self.project(sink)) ?? "?"
        return "bigquery \(project).\(sink.table.map { "\($0.schema ?? "?").\($0.name)" } ?? "")"
    }

    /// The project: `options.project`, else the connection URL's host (`bigquery://PROJECT`).
    static func project(_ config: SinkConfig) throws -> String {
        let settings = config.options.connector(BigQuerySettings.self) ?? BigQuerySettings()
        if let project = settings.project ?? config.connection?.resolved.host, !project.isEmpty { return project }
        throw DponeError(.manifest, "a bigquery sink needs a project", hint: "write connection: {url: \"bigquery://PROJECT\"} or options.project")
    }

    /// `location`: `options.location`, else the URL's `?location=`.
    static func location(_ config: SinkConfig) -> String? {
        let settings = config.options.connector(BigQuerySettings.self) ?? BigQuerySettings()
        if let location = settings.location { return location }
        guard let url = config.connection?.resolved.url, let components = URLComponents(string: url) else { return nil }
        return components.queryItems?.first { $0.name == "location" }?.value
    }

    public func makeSink(_ request: SinkRequest) throws -> any SinkOperator {
        let config = request.config
        guard let table = config.table, let dataset = table.schema, !dataset.isEmpty else {
            throw DponeError(.manifest, "a bigquery sink needs table: {schema: DATASET, name: TABLE}")
        }
        let settings = config.options.connector(BigQuerySettings.self) ?? BigQuerySettings()
        let environment = ProcessInfo.processInfo.environment
        let emulator = environment["BIGQUERY_EMULATOR_HOST"].flatMap { $0.isEmpty ? nil : $0 }
        let project = try Self.project(config)
        let target = BigQueryTable(project: project, dataset: dataset, name: table.name)
        var options = BigQuerySinkOptions(
            project: project, location: Self.location(config), target: target, mode: try config.strategy.loadStrategy(for: self),
            uniqueKey: config.strategy.uniqueKey, loadID: request.loadID,
            credentials: try BigQueryCredentials.resolve(
                credentialsFile: settings.credentialsFile, emulator: emulator != nil, environment: environment),
            emulatorHost: emulator)
        options.keepLastDuplicate = config.strategy.duplicatePolicy.map { $0 == "last" } ?? request.sourceRepeatsKeys
        if case .incrementalMerge = options.mode, request.sourceEmitsDeletes { options.stagesOperations = true }
        if let chunk = settings.chunkBytes { options.chunkBytes = chunk }
        options.dropsLeftovers = (request.state.type == .file || request.state.type == .postgres) && !request.targetShared
        if request.state.atomicity == .targetAtomic {
            let state = try Self.stateTable(request.state, sink: config)
            guard state.project == project else {
                throw DponeError(
                    .manifest, "atomicity target_atomic needs the state table in the sink's project \(project), not \(state.project)",
                    hint: "point state.connection at the sink's project")
            }
            options.stateTable = state
        }
        return BigQuerySink(name: "bigquery:\(target)", options: options)
    }

    /// `dpone batch --dry-run`: the load job, the checks and the checkpoint's publish script.
    public func dryRun(_ request: SinkRequest, nextCheckpoint: UInt64, columns: () async throws -> [String]) async throws -> SinkDryRun? {
        guard let sink = try makeSink(request) as? BigQuerySink else { return nil }
        let options = sink.options
        let plan = BigQueryLoadPlan(
            target: options.target, staging: options.staging, columns: try await columns(), uniqueKey: options.uniqueKey, mode: options.mode,
            loadTimestampSQL: BigQueryFinalizer.loadTimestampSQL, stagesOperations: options.stagesOperations)
        var transactional = BigQueryLedger.guardUnpublished(options.ledger, pipeline: request.pipeline, target: options.target, checkpoint: nextCheckpoint)
        transactional += try BigQueryFinalizer.statements(plan) + BigQueryFinalizer.reconciliation(plan)
        transactional.append("INSERT INTO \(options.ledger.sql) (...) VALUES (..., \(nextCheckpoint), ..., dpone_inserted, dpone_updated, dpone_deleted, dpone_now)")
        if let state = options.stateTable { transactional.append("write the state row of checkpoint \(nextCheckpoint) into \(state.sql)") }
        var checks = BigQueryFinalizer.keyChecks(plan).map { "\($0.what) = 0: \($0.sql)" }
        if options.keepLastDuplicate, plan.matchesByKey { checks.insert("keep each key's last row: \(BigQueryFinalizer.keepLastPerKey(plan))", at: 0) }
        return SinkDryRun(
            staging: "\(options.staging.sql) via one NDJSON load job (resumable upload, \(options.chunkBytes >> 20) MiB chunks)",
            checks: checks,
            finalizer: BigQueryFinalizer.script(transactional: transactional, after: ["DROP TABLE IF EXISTS \(options.staging.sql)"])
                .split(separator: "\n").map(String.init))
    }

    // MARK: state

    public var stateType: StateType? { .bigquery }

    /// `state.type: bigquery`: the state table, credentials as the sink's (its `credentials_file`
    /// when the sink is BigQuery too), the emulator when `BIGQUERY_EMULATOR_HOST` is set.
    public func makeStateStore(_ document: ManifestDocument) throws -> any StateStore {
        let table = try Self.stateTable(document.state, sink: document.sink)
        let settings = document.sink.type == type ? document.sink.options.connector(BigQuerySettings.self) : nil
        let environment = ProcessInfo.processInfo.environment
        let emulator = environment["BIGQUERY_EMULATOR_HOST"].flatMap { $0.isEmpty ? nil : $0 }
        let client = BigQueryClient(
            project: table.project, location: document.sink.type == type ? Self.location(document.sink) : nil,
            credentials: try BigQueryCredentials.resolve(
                credentialsFile: settings?.credentialsFile, emulator: emulator != nil, environment: environment),
            emulatorHost: emulator)
        return BigQueryStateStore(table: table, client: client)
    }

    /// The state table: `state.table` (its schema the dataset), by default `__dpone__state` in the
    /// sink's dataset; the project is the state connection's host (`bigquery://PROJECT`).
    static func stateTable(_ state: StateConfig, sink: SinkConfig) throws -> BigQueryTable {
        guard let project = state.connection?.resolved.host, !project.isEmpty else {
            throw DponeError(.manifest, "a bigquery state store needs connection: {url: \"bigquery://PROJECT\"}")
        }
        let dataset = state.table?.schema ?? (sink.type == .bigquery ? sink.table?.schema : nil)
        guard let dataset, !dataset.isEmpty else {
            throw DponeError(.manifest, "a bigquery state store needs table: {schema: DATASET, name: __dpone__state}")
        }
        return BigQueryTable(project: project, dataset: dataset, name: state.table?.name ?? "__dpone__state")
    }

    /// `dpone doctor`: the endpoint answers, the credentials work and the dataset is reachable.
    public func doctor(_ document: ManifestDocument) async -> [DoctorProbe] {
        let config = document.sink
        guard config.type == type else { return [] }
        do {
            let sink = try makeSink(SinkRequest(config: config, pipeline: document.name, loadID: "doctor")) as? BigQuerySink
            guard let options = sink?.options else { return [] }
            // One retry: a probe reports what is wrong, it does not wait it out.
            let client = BigQueryClient(
                project: options.project, location: options.location, credentials: options.credentials, emulatorHost: options.emulatorHost,
                maxRetries: 1, timeoutSeconds: 30)
            _ = try await client.query("SELECT 1", what: "a probe")
            let dataset = try await client.columns(of: options.ledger) != nil ? "ledger present" : "no ledger yet (created on first run)"
            return [
                DoctorProbe(
                    name: "bigquery sink", outcome: .ok,
                    detail: "\(client.baseURL), project \(options.project), \(options.credentials.summary); \(dataset)")
            ]
        } catch {
            return [
                DoctorProbe(
                    name: "bigquery sink", outcome: .failed, detail: "\(error)",
                    fix: "check the project, the credentials (credentials_file / GOOGLE_APPLICATION_CREDENTIALS) and BIGQUERY_EMULATOR_HOST")
            ]
        }
    }
}

/// The bigquery keys of `sink.options`.
public struct BigQuerySettings: ConnectorOptions, Hashable, Codable {
    public var renderKey: String { "bigquery" }
    static let keys = ["project", "location", "credentials_file", "chunk_bytes"]

    /// `project`: the Google Cloud project (else the connection URL's host).
    public var project: String?
    /// `location`: where jobs run and the dataset is created (`US`, `EU`, `europe-west1`).
    public var location: String?
    /// `credentials_file`: a service-account JSON key (else `GOOGLE_APPLICATION_CREDENTIALS`).
    public var credentialsFile: String?
    /// `chunk_bytes`: bytes per upload chunk, rounded down to a multiple of 256 KiB; default 8 MiB.
    public var chunkBytes: Int?

    public init() {}

    static func decode(_ options: OptionsReader) -> BigQuerySettings? {
        guard let map = options.map else { return nil }
        var settings = BigQuerySettings()
        if let r = map["project"], let text = options.ctx.string(r) { settings.project = text }
        if let r = map["location"], let text = options.ctx.string(r) { settings.location = text }
        if let r = map["credentials_file"], let text = options.ctx.string(r) { settings.credentialsFile = text }
        if let r = map["chunk_bytes"], let n = options.ctx.positiveInt(r) {
            if n < 256 << 10 {
                options.ctx.fail(r, "chunk_bytes must be at least 262144 (256 KiB)", hint: "resumable uploads send multiples of 256 KiB")
            } else {
                settings.chunkBytes = n
            }
        }
        return settings
    }

    enum CodingKeys: String, CodingKey {
        case project, location
        case credentialsFile = "credentials_file"
        case chunkBytes = "chunk_bytes"
    }
}

extension EndpointType {
    /// The manifest's `type: bigquery`.
    public static let bigquery: EndpointType = "bigquery"
}
