import ConnectorKit
import Flow
import Foundation
import Logging

/// What a BigQuery sink is told: where, how it publishes, and with which credentials.
public struct BigQuerySinkOptions: Sendable {
    public var project: String
    public var location: String?
    public var target: BigQueryTable
    public var mode: LoadStrategy
    public var uniqueKey: [String]
    public var loadID: String
    public var credentials: BigQueryCredentials
    /// `host:port` of an emulator (`BIGQUERY_EMULATOR_HOST`); nil: Google's endpoint.
    public var emulatorHost: String?
    /// The ledger, in the target's dataset (`__dpone__loads`).
    public var ledger: BigQueryTable
    /// With `state.atomicity: target_atomic`, the state table the publish script writes.
    public var stateTable: BigQueryTable?
    /// `duplicate_policy: last`: each key's last staged row wins.
    public var keepLastDuplicate = false
    /// Staging carries each row's operation: `incremental_merge` removes keys whose last row is a delete.
    public var stagesOperations = false
    /// Bytes per upload chunk (a multiple of 256 KiB): the sink's encode buffer holds about this much.
    public var chunkBytes = 8 << 20
    /// The pipeline holds a run lock (a file or PostgreSQL state store), so staging tables of other
    /// load ids into this target are leftovers of killed runs, dropped when the sink opens.
    public var dropsLeftovers = false

    public init(
        project: String, location: String?, target: BigQueryTable, mode: LoadStrategy, uniqueKey: [String] = [], loadID: String,
        credentials: BigQueryCredentials, emulatorHost: String?
    ) {
        self.project = project
        self.location = location
        self.target = target
        self.mode = mode
        self.uniqueKey = uniqueKey
        self.loadID = loadID
        self.credentials = credentials
        self.emulatorHost = emulatorHost
        self.ledger = target.sibling("__dpone__loads")
    }

    /// `__dpone__stg_<load id>_<table>`, beside the target.
    public var staging: BigQueryTable { target.sibling("__dpone__stg_\(loadID)_\(target.name)") }

    /// A chunk size rounded to the 256 KiB multiple resumable uploads need (at least one unit).
    static func roundedChunk(_ bytes: Int) -> Int { max(1, bytes / (256 << 10)) * (256 << 10) }
}

/// Loads each checkpoint's rows into an attempt-local staging table with one load job, and
/// publishes them with `StagedTableDriver` over `BigQueryDialect`: one multi-statement script per
/// checkpoint whose `BEGIN TRANSACTION ... COMMIT TRANSACTION` holds the strategy's statements, the
/// ledger row (and the state row with `target_atomic`).
///
/// Load path: batches are encoded straight from their columns into newline-delimited JSON
/// (`BigQueryRowEncoder`) and sent as chunks of a resumable upload as they fill (`chunkBytes`, 8 MiB
/// by default), so memory holds about one chunk whatever the checkpoint's size. The load job starts
/// when the checkpoint's last chunk is in; the sink polls it to completion, and a failed job's
/// `errors[]` fail the checkpoint before the target is touched.
///
/// BigQuery quotas count load jobs per table and day (1,500): one job per checkpoint, so a stream
/// into BigQuery wants a checkpoint interval of a minute or more.
public actor BigQuerySink: SinkOperator {
    public nonisolated let name: String
    public nonisolated let options: BigQuerySinkOptions
    nonisolated let logger = Logger(label: "dpone.bigquery.sink")
    private var client: BigQueryClient?
    /// Business columns staged (the batches' schema) and their BigQuery types.
    private var columns: [BigQueryColumn] = []
    private var encoder: BigQueryRowEncoder?
    /// The current checkpoint's upload: its session, the bytes sent, the bytes waiting.
    private var session: String?
    private var sent = 0
    private var pending: [UInt8] = []
    private var sequence: Int64 = 0
    private var stagedRows = 0
    private var stagingReady = false

    public init(name: String = "bigquery", options: BigQuerySinkOptions) {
        self.name = name
        self.options = options
    }

    private func connected() -> BigQueryClient {
        if let client { return client }
        let fresh = BigQueryClient(
            project: options.project, location: options.location, credentials: options.credentials, emulatorHost: options.emulatorHost)
        client = fresh
        return fresh
    }

    /// Maps every column (a lossy one fails here, before anything is written), then makes sure the
    /// dataset, the ledger and the target exist (adding staged columns the target lacks), and creates
    /// the staging table.
    public func open(schema: Schema) async throws {
        let mapped = try BigQueryColumn.columns(of: schema)
        let client = connected()
        logger.info(
            "bigquery sink", metadata: ["endpoint": "\(client.baseURL)", "credentials": "\(options.credentials.summary)", "table": "\(options.target)"])
        try await client.ensureDataset(options.target.dataset)
        try await client.query(BigQueryLedger.ddl(options.ledger), what: "creating the ledger \(options.ledger)")
        if let state = options.stateTable {
            if state.dataset != options.target.dataset { try await client.ensureDataset(state.dataset) }
            try await client.query(BigQueryLedger.stateDDL(state), what: "creating the state table \(state)")
        }
        let wanted = mapped + Self.technicalColumns(mode: options.mode)
        if let existing = try await client.columns(of: options.target) {
            try await evolve(existing: existing, wanted: wanted, on: client)
        } else {
            try await client.query(BigQueryColumn.createTable(options.target, wanted), what: "creating \(options.target)")
        }
        columns = mapped
        encoder = BigQueryRowEncoder(columns: mapped.map(\.name), stagesOperations: options.stagesOperations)
        if options.dropsLeftovers { try await dropLeftovers(on: client) }
        try await createStaging(on: client)
    }

    /// Drops the staging tables earlier attempts into this target left behind (a killed run):
    /// `__dpone__stg_<other load id>_<table>`. Only with a run lock (`dropsLeftovers`): then no other
    /// run of the pipeline is loading. Without one they expire by themselves after a day.
    private func dropLeftovers(on client: BigQueryClient) async throws {
        let target = options.target
        let leftovers = try await client.query(
            "SELECT table_name FROM \(BigQuerySQL.quote(target.project)).\(BigQuerySQL.quote(target.dataset)).INFORMATION_SCHEMA.TABLES "
                + "WHERE STARTS_WITH(table_name, '__dpone__stg_') AND ENDS_WITH(table_name, \(BigQuerySQL.literal("_" + target.name)))",
            what: "listing leftover staging tables of \(target)"
        ).rows.compactMap { $0.first ?? nil }
        // The load id has no underscore: what follows its first one is exactly the target's name.
        let ours = leftovers.filter { name in
            name.dropFirst("__dpone__stg_".count).split(separator: "_", maxSplits: 1).last.map(String.init) == target.name
        }
        for name in ours where name != options.staging.name {
            let table = target.sibling(name)
            logger.notice("dropping a leftover staging table", metadata: ["table": "\(table)"])
            try await client.query("DROP TABLE IF EXISTS \(table.sql)", what: "dropping \(table)")
        }
    }

    /// The target's columns beyond the staged ones: SCD2 validity, a soft delete's timestamp.
    static func technicalColumns(mode: LoadStrategy) -> [BigQueryColumn] {
        switch mode {
        case .scd2:
            [
                BigQueryColumn(name: TechnicalColumns.validFrom, type: BigQueryType(name: "TIMESTAMP")),
                BigQueryColumn(name: TechnicalColumns.validTo, type: BigQueryType(name: "TIMESTAMP")),
                BigQueryColumn(name: TechnicalColumns.isCurrent, type: BigQueryType(name: "BOOL")),
            ]
        case .snapshotDiff(.softDelete):
            [BigQueryColumn(name: TechnicalColumns.deletedAt, type: BigQueryType(name: "TIMESTAMP"))]
        default:
            []
        }
    }

    /// Adds the columns the target lacks (nullable: additive, safe for readers); refuses a column
    /// whose type differs, before anything is written.
    private func evolve(existing: [(name: String, type: String)], wanted: [BigQueryColumn], on client: BigQueryClient) async throws {
        var added: [String] = []
        for column in wanted {
            if let found = existing.first(where: { $0.name.lowercased() == column.name.lowercased() }) {
                guard column.type.loads(into: found.type, emulator: client.isEmulator) else {
                    throw DponeError(
                        .schema, "column \(column.name) of \(options.target) is \(found.type), but the source sends \(column.type.ddl)",
                        hint: "alter the target column, or cast the source column in transforms",
                        context: ["table": options.target.description, "column": column.name, DponeError.permanentKey: "true"])
                }
                continue
            }
            try await client.query(
                "ALTER TABLE \(options.target.sql) ADD COLUMN IF NOT EXISTS \(BigQuerySQL.quote(column.name)) \(column.type.ddl)",
                what: "adding column \(column.name) to \(options.target)")
            added.append("\(options.target).\(column.name): added \(column.type.ddl)")
        }
        if !added.isEmpty { logger.notice("evolved target", metadata: ["table": "\(options.target)", "columns": "\(added)"]) }
    }

    /// The staging table: the business columns, `__dpone__seq` and (operations staged) `__dpone__op`;
    /// it expires after a day, so an attempt that crashed leaves nothing behind for long.
    private func createStaging(on client: BigQueryClient) async throws {
        var staged = columns + [BigQueryColumn(name: TechnicalColumns.sequence, type: BigQueryType(name: "INT64"))]
        if options.stagesOperations { staged.append(BigQueryColumn(name: TechnicalColumns.operation, type: BigQueryType(name: "INT64"))) }
        try await client.query("DROP TABLE IF EXISTS \(options.staging.sql)", what: "dropping \(options.staging)")
        try await client.query(
            BigQueryColumn.createTable(
                options.staging, staged, ifNotExists: false,
                suffix: " OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY))"),
            what: "creating \(options.staging)")
        stagingReady = true
    }

    /// Encodes `batch` into the upload buffer in slices, sending each full chunk as it fills.
    public func write(_ batch: Batch) async throws {
        guard batch.rowCount > 0 else { return }
        guard let encoder else { throw DponeError(.internal, "bigquery sink written before open", context: ["sink": name]) }
        let chunk = BigQuerySinkOptions.roundedChunk(options.chunkBytes)
        // Slices sized so one stays near a quarter chunk whatever the row width (the first, of 64
        // rows, measures it): the buffer holds about a chunk and a quarter at most.
        var slice = 64
        var row = 0
        while row < batch.rowCount {
            let end = min(batch.rowCount, row + slice)
            let before = pending.count
            encoder.encode(batch, rows: row..<end, firstSequence: sequence, into: &pending)
            let perRow = max(1, (pending.count - before) / (end - row))
            slice = max(1, min(4096, chunk / 4 / perRow))
            sequence += Int64(end - row)
            row = end
            while pending.count >= chunk { try await sendChunk(count: chunk, last: false) }
        }
        stagedRows += batch.rowCount
    }

    /// Sends the first `count` pending bytes (all of them when `last`, which completes the upload).
    private func sendChunk(count: Int, last: Bool) async throws {
        let client = connected()
        let what = "the load of \(options.staging)"
        if session == nil {
            session = try await client.startLoad(try loadJob(), what: what)
        }
        guard let session else { return }
        var count = count
        var attempts = 0
        while true {
            let bytes = count == pending.count ? pending : Array(pending[0..<count])
            let total = last ? sent + bytes.count : nil
            switch try await client.uploadChunk(session, bytes, offset: sent, total: total, what: what) {
            case .persisted(let persisted):
                // BigQuery may keep fewer bytes than were sent: the rest goes again, from there.
                guard persisted >= sent, persisted <= sent + bytes.count else {
                    throw DponeError(.sink, "BigQuery reports \(persisted) bytes of \(what), but \(sent) were confirmed before")
                }
                let kept = persisted - sent
                sent = persisted
                if kept == pending.count { pending.removeAll(keepingCapacity: true) } else { pending.removeFirst(kept) }
                count -= kept
                attempts = kept == 0 ? attempts + 1 : 0
                guard attempts < 3 else { throw DponeError(.sink, "BigQuery keeps no byte of \(what) at offset \(sent)") }
                if count == 0 && !last { return }
            case .started(let job, let location):
                guard last else { throw DponeError(.sink, "BigQuery started the load of \(what) before its last chunk") }
                sent += bytes.count
                pending.removeAll(keepingCapacity: true)
                let loaded = try await client.waitForJob(job, location: location, what: "load job \(job) into \(options.staging)")
                guard let rows = loaded else {
                    throw DponeError(.sink, "load job \(job) into \(options.staging) reports no row count; the target is untouched", context: ["job": job])
                }
                guard rows == stagedRows else {
                    throw DponeError(
                        .sink, "load job \(job) loaded \(rows) rows into \(options.staging), but \(stagedRows) were sent; the target is untouched",
                        context: ["job": job])
                }
                return
            }
        }
    }

    /// The job resource of a checkpoint's load job (JSON).
    func loadJob() throws -> [UInt8] {
        try BigQuerySink.loadJob(
            staging: options.staging, columns: columns, stagesOperations: options.stagesOperations, location: options.location)
    }

    /// A load job: NDJSON with the staging table's explicit schema, appended into the staging table
    /// created beforehand (never created by the job), no bad record tolerated.
    static func loadJob(staging: BigQueryTable, columns: [BigQueryColumn], stagesOperations: Bool, location: String?) throws -> [UInt8] {
        var job: [String: Any] = ["configuration": ["load": loadConfiguration(staging: staging, columns: columns, stagesOperations: stagesOperations)]]
        if let location { job["jobReference"] = ["location": location, "projectId": staging.project] }
        return try BigQueryClient.encode(job)
    }

    static func loadConfiguration(staging: BigQueryTable, columns: [BigQueryColumn], stagesOperations: Bool) -> [String: Any] {
        var fields: [[String: Any]] = columns.map { column in
            var field: [String: Any] = ["name": column.name, "type": column.type.name, "mode": "NULLABLE"]
            if let p = column.type.precision, let s = column.type.scale {
                field["precision"] = String(p)
                field["scale"] = String(s)
            }
            return field
        }
        fields.append(["name": TechnicalColumns.sequence, "type": "INT64", "mode": "NULLABLE"])
        if stagesOperations { fields.append(["name": TechnicalColumns.operation, "type": "INT64", "mode": "NULLABLE"]) }
        return [
            "destinationTable": ["projectId": staging.project, "datasetId": staging.dataset, "tableId": staging.name],
            "sourceFormat": "NEWLINE_DELIMITED_JSON", "writeDisposition": "WRITE_APPEND", "createDisposition": "CREATE_NEVER",
            "schema": ["fields": fields], "ignoreUnknownValues": false, "maxBadRecords": 0,
        ]
    }

    public func finalize(_ context: CheckpointContext) async throws -> SinkCommit {
        let client = connected()
        if !stagingReady { try await createStaging(on: client) }
        if session != nil || !pending.isEmpty { try await sendChunk(count: pending.count, last: true) }
        let staged = stagedRows
        session = nil
        sent = 0
        sequence = 0
        stagedRows = 0
        var dialect = BigQueryDialect(
            client: client, options: options, columns: columns.map(\.name), complete: context.isComplete, sent: staged)
        let commit = try await StagedTableDriver.publish(context, through: &dialect, writesState: options.stateTable != nil)
        stagingReady = false  // the script dropped it
        if let counts = dialect.published, let window = counts.window, window != counts.staged {
            logger.warning("reconciliation mismatch", metadata: ["table": "\(options.target)", "staged": "\(counts.staged)", "window": "\(window)"])
        }
        // The next checkpoint stages into a fresh table.
        try await createStaging(on: client)
        return commit
    }

    public func abort() async {
        session = nil
        pending = []
        sent = 0
        sequence = 0
        stagedRows = 0
        guard let client else { return }
        _ = try? await client.query("DROP TABLE IF EXISTS \(options.staging.sql)", what: "dropping \(options.staging)")
        stagingReady = false
    }

    public func close() async {
        guard let client else { return }
        _ = try? await client.query("DROP TABLE IF EXISTS \(options.staging.sql)", what: "dropping \(options.staging)")
        self.client = nil
    }

    public nonisolated var appliesDeletes: Bool { options.stagesOperations }

    public func newestPublished(pipeline: String) async throws -> PublishedCheckpoint? {
        let client = connected()
        guard try await client.columns(of: options.ledger) != nil else { return nil }
        let rows = try await client.query(
            BigQueryLedger.newest(options.ledger, pipeline: pipeline, target: options.target), what: "reading the ledger \(options.ledger)"
        ).rows
        guard let row = rows.first, let text = row[0], let id = UInt64(text) else { return nil }
        return PublishedCheckpoint(
            id: CheckpointID(id), positions: row[1].flatMap { try? JSONDecoder().decode(StateValue.self, from: Data($0.utf8)) })
    }
}
