import Flow
import Foundation
import Logging
import Synchronization

/// A table a `PostgresCDCSource` replicates.
public struct PostgresCDCTable: Sendable, Hashable, CustomStringConvertible {
    public var schema: String
    public var table: String

    public init(schema: String, table: String) {
        self.schema = schema
        self.table = table
    }

    /// `"schema"."table"`.
    public var qualified: String { PostgresSQL.qualifiedName(schema: schema, name: table) }
    public var description: String { "\(schema).\(table)" }
}

/// Where a `PostgresCDCSource` reads.
public struct PostgresCDCSourceOptions: Sendable {
    public var url: String
    /// The replicated tables, one output route each (in this order), all on one slot.
    public var tables: [PostgresCDCTable]
    public var slot: String
    public var publication: String
    /// Create the publication (for the tables) and the slot (with an initial snapshot) when missing.
    public var create: Bool
    public var batchRows: Int
    public var typePolicy: PostgresTypes.Policy
    public var mode: ContinuousMode
    /// Seconds between checkpoints that only move the slot forward (no change of the tables arrived
    /// but the server's WAL did). Never below `mode.checkpointInterval`.
    public var idleCheckpointSeconds: Double
    /// Parts copied at once by the initial snapshot (each on its own connection, all inside the
    /// slot's exported snapshot): tables, and page ranges of tables above `snapshotRangeBytes`.
    public var snapshotParallelism: Int
    /// A plain table larger than this is copied as ctid ranges of about this size (when
    /// `snapshotParallelism` > 1).
    public var snapshotRangeBytes: Int64
    /// `on_truncate: truncate_target`: a TRUNCATE of a replicated table reaches the sink as a
    /// `RowOperation.truncate` row (alone in its batch) instead of failing the stream.
    public var truncatesTarget = false

    public init(
        url: String, tables: [PostgresCDCTable], slot: String, publication: String, create: Bool = true,
        batchRows: Int = 65_536, typePolicy: PostgresTypes.Policy = .strict, mode: ContinuousMode,
        idleCheckpointSeconds: Double = 5, snapshotParallelism: Int = 2, snapshotRangeBytes: Int64 = 256 << 20
    ) {
        self.url = url
        self.tables = tables
        self.slot = slot
        self.publication = publication
        self.create = create
        self.batchRows = batchRows
        self.typePolicy = typePolicy
        self.mode = mode
        self.idleCheckpointSeconds = idleCheckpointSeconds
        self.snapshotParallelism = max(1, snapshotParallelism)
        self.snapshotRangeBytes = max(1 << 20, snapshotRangeBytes)
    }

    /// One table.
    public init(
        url: String, schema: String, table: String, slot: String, publication: String, create: Bool = true,
        batchRows: Int = 65_536, typePolicy: PostgresTypes.Policy = .strict, mode: ContinuousMode,
        idleCheckpointSeconds: Double = 5
    ) {
        self.init(
            url: url, tables: [PostgresCDCTable(schema: schema, table: table)], slot: slot, publication: publication,
            create: create, batchRows: batchRows, typePolicy: typePolicy, mode: mode, idleCheckpointSeconds: idleCheckpointSeconds)
    }
}

/// The positions a CDC checkpoint records: `{slot, lsn, snapshot_done}` (`lsn` in `X/Y` form).
struct CDCPositions: Sendable, Equatable {
    var slot: String
    var lsn: LSN
    var snapshotDone: Bool

    var stateValue: StateValue {
        .object(["slot": .string(slot), "lsn": .string(lsn.description), "snapshot_done": .bool(snapshotDone)])
    }

    init(slot: String, lsn: LSN, snapshotDone: Bool) {
        self.slot = slot
        self.lsn = lsn
        self.snapshotDone = snapshotDone
    }

    /// nil for nil; throws for positions that are not a CDC source's.
    init?(_ value: StateValue?) throws {
        guard let value else { return nil }
        guard let slot = value["slot"]?.stringValue, let text = value["lsn"]?.stringValue, let lsn = LSN(text) else {
            throw DponeError(
                .state, "the pipeline's state holds no replication position (\(value))",
                hint: "the state belongs to another source: reset it (dpone state reset) to snapshot the table again")
        }
        var done = false
        if case .bool(let b)? = value["snapshot_done"] { done = b }
        self.init(slot: slot, lsn: lsn, snapshotDone: done)
    }
}

/// `dpone stream` from PostgreSQL tables through logical replication (`pgoutput`), several tables
/// on one slot: each table is an output route (`outputSchemas()`, in `options.tables` order) with
/// its own channel and sinks.
///
/// - First start (no state; `create`): the publication is created for the tables when missing, the
///   slot is created with an exported snapshot, the tables are copied inside that snapshot as
///   inserts (`snapshotParallelism` at once, one connection each), and one snapshot checkpoint
///   (`SourceOutput.completeCheckpoint`) records `{slot, lsn: consistent point, snapshot_done: true}`.
///   A slot left by a first start that never recorded its snapshot is dropped and created again.
/// - Then (and on restart, from the state's lsn; a done snapshot is never taken again) the slot is
///   streamed: each table's inserts, updates and deletes become rows of its route with operations
///   insert / update / delete, the table's columns plus `__dpone__lsn` (its transaction's commit
///   record LSN plus one: known at Begin, ordered like commits, never above the commit's end) and
///   `__dpone__unchanged` (a JSON array of the columns an update left as unchanged TOAST, else
///   NULL: the sink keeps its current values there). An update that changes the key is a delete of
///   the old key then an update of the new one. Changes of tables the publication has but the
///   manifest does not name are skipped.
/// - Checkpoints only at commit boundaries, every `checkpointInterval` when changes arrived, with
///   `{slot, lsn: last commit end}`, on every route. Batches leave every `batchRows` rows or 8 MB,
///   inside a transaction too (memory does not grow with a transaction's size); a stop inside a
///   transaction receives up to its commit first.
/// - The slot is confirmed only with positions of durable checkpoints (`acknowledge`). When no
///   change is in flight and the server's WAL moved on (writes to other tables), an empty checkpoint
///   at the server's reported position (at most every `idleCheckpointSeconds`) lets the slot advance,
///   so idle tables do not retain WAL without bound.
/// - A table whose replica identity cannot identify rows (NOTHING, or DEFAULT without a primary key)
///   fails at start. TRUNCATE of a replicated table fails the run.
public final class PostgresCDCSource: SourceOperator {
    public let name: String
    public var emitsChangeData: Bool { true }
    public let options: PostgresCDCSourceOptions
    let logger = Logger(label: "dpone.postgres.cdc")
    private let described = Mutex<[PostgresTable]?>(nil)
    private let stream = Mutex<ReplicationStream?>(nil)
    /// The newest durable checkpoint.
    private let durable = Mutex<CheckpointID?>(nil)
    /// The lsn of the newest durable checkpoint (what the slot is confirmed to).
    private let durableLSN = Mutex<LSN?>(nil)

    public init(name: String, options: PostgresCDCSourceOptions) throws {
        guard ReplicationStreamNames.isValidSlot(options.slot) else {
            throw DponeError(.manifest, "invalid replication slot name \"\(options.slot)\"", hint: "use 1 to 63 lowercase letters, digits and underscores")
        }
        guard !options.tables.isEmpty, Set(options.tables).count == options.tables.count else {
            throw DponeError(.manifest, "a cdc source needs one or more distinct tables (\(options.tables.map(\.description).joined(separator: ", ")))")
        }
        self.name = name
        self.options = options
    }

    var tableList: String { options.tables.map(\.qualified).joined(separator: ", ") }

    private func describe() async throws -> [PostgresTable] {
        if let t = described.withLock({ $0 }) { return t }
        let connection = try await PostgresConnection.connect(url: options.url)
        do {
            var tables: [PostgresTable] = []
            for t in options.tables {
                let table = try await PostgresCatalog.describeTable(
                    schema: t.schema, table: t.table, on: connection, policy: options.typePolicy)
                if let array = table.columns.first(where: { $0.typeName.hasSuffix("[]") }) {
                    throw DponeError(
                        .schema, "column \"\(array.name)\" of \(t.qualified) is an array (\(array.typeName)), which cdc does not map yet",
                        context: ["table": t.qualified, "column": array.name])
                }
                tables.append(table)
            }
            await connection.close()
            described.withLock { $0 = tables }
            return tables
        } catch {
            await connection.close()
            throw error
        }
    }

    public func outputSchema() async throws -> Schema { try await outputSchemas()[0] }

    public func outputSchemas() async throws -> [Schema] {
        try await describe().map { Self.outputSchema(for: $0.schema) }
    }

    static func outputSchema(for tableSchema: Schema) -> Schema {
        Schema(
            tableSchema.fields + [
                Field(TechnicalColumns.lsn, .int64, nullable: false), Field(TechnicalColumns.unchanged, .string),
            ])
    }

    /// Per table, the columns that identify its rows: the replica identity index's (`USING INDEX`),
    /// else the primary key's, in index order; nil when the table has neither (REPLICA IDENTITY FULL
    /// without a primary key: the manifest must name the key).
    public func identityKeys() async throws -> [[String]?] {
        let connection = try await PostgresConnection.connect(url: options.url)
        do {
            var keys: [[String]?] = []
            for t in options.tables {
                let rows = try await connection.query(
                    """
                    SELECT a.attname
                    FROM pg_index i
                    JOIN pg_class c ON c.oid = i.indrelid
                    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    WHERE i.indrelid = to_regclass($1)
                      AND (CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END)
                    ORDER BY k.n
                    """, parameters: [t.qualified])
                let names = rows.compactMap { $0.first ?? nil }
                keys.append(names.isEmpty ? nil : names)
            }
            await connection.close()
            return keys
        } catch {
            await connection.close()
            throw PostgresCDCSource.sourceError(error)
        }
    }

    public func acknowledge(_ checkpoint: CheckpointID) async throws {}

    /// Confirms the durable lsn to the slot (never more than the durable state holds).
    public func acknowledge(_ checkpoint: CheckpointID, positions: StateValue) async throws {
        durable.withLock { if $0.map({ $0 < checkpoint }) ?? true { $0 = checkpoint } }
        guard let p = try CDCPositions(positions), p.slot == options.slot else { return }
        durableLSN.withLock { if $0.map({ $0 < p.lsn }) ?? true { $0 = p.lsn } }
        stream.withLock { $0 }?.confirm(flushed: p.lsn)
    }

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        let tables = try await describe()
        let resume = try CDCPositions(resumeFrom)
        let admin = try await PostgresConnection.connect(url: options.url)
        let replication: ReplicationStream
        var start: LSN
        var snapshotCheckpoint: CheckpointID?
        do {
            try await checkReplicaIdentity(admin)
            let slotExists = try await !admin.query(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", parameters: [options.slot]
            ).isEmpty
            replication = try await ReplicationStream.connect(url: options.url, applicationName: "dpone-cdc")
            stream.withLock { $0 = replication }
            do {
                if let resume, resume.snapshotDone {
                    guard resume.slot == options.slot else {
                        throw DponeError(
                            .state, "dpone's state streams slot \(resume.slot), the manifest names slot \(options.slot)",
                            hint: "restore the manifest's slot, or reset the state (dpone state reset) to snapshot again")
                    }
                    guard slotExists else {
                        throw DponeError(
                            .source,
                            "replication slot \(options.slot) does not exist, but dpone's state says its snapshot was taken: changes since \(resume.lsn) are lost to this pipeline",
                            hint: "reset the state (dpone state reset) so the next run creates the slot and snapshots \(tableList) again")
                    }
                    start = resume.lsn
                    logger.info("resuming", metadata: ["slot": "\(options.slot)", "lsn": "\(start)"])
                } else if !options.create {
                    guard slotExists else {
                        throw DponeError(
                            .source, "replication slot \(options.slot) does not exist and cdc.create is false",
                            hint: "create it, or set source.options.cdc.create: true")
                    }
                    // A slot the user made: stream from its confirmed position, without a snapshot.
                    start = .invalid
                    try await requirePublication(admin, create: false)
                } else {
                    if slotExists {
                        logger.warning(
                            "dropping replication slot left by a start that never recorded its snapshot",
                            metadata: ["slot": "\(options.slot)"])
                        _ = try await admin.query(
                            "SELECT pg_drop_replication_slot($1)", parameters: [options.slot])
                    }
                    try await requirePublication(admin, create: true)
                    let created = try await replication.createSlot(options.slot, snapshot: .export)
                    guard let snapshotName = created.snapshotName else {
                        throw DponeError(.source, "the server exported no snapshot for slot \(options.slot)")
                    }
                    logger.notice(
                        "created replication slot; copying the tables",
                        metadata: [
                            "slot": "\(options.slot)", "consistent_point": "\(created.consistentPoint)", "tables": "\(tableList)",
                        ])
                    try await snapshot(tables, snapshotName: snapshotName, lsn: created.consistentPoint, into: output)
                    snapshotCheckpoint = try await output.completeCheckpoint(
                        positions: CDCPositions(slot: options.slot, lsn: created.consistentPoint, snapshotDone: true).stateValue)
                    start = created.consistentPoint
                }
            } catch {
                stream.withLock { $0 = nil }
                await replication.close()
                throw error
            }
        } catch {
            await admin.close()
            throw PostgresCDCSource.sourceError(error)
        }
        await admin.close()
        do {
            // A walsender of a killed predecessor may still hold the slot for a moment (55006).
            let deadline = ContinuousClock.now + .seconds(30)
            while true {
                do {
                    try await replication.startReplication(
                        slot: options.slot, from: start, publications: [options.publication], statusInterval: .seconds(1))
                    break
                } catch let error as PostgresError where error.sqlState == "55006" && ContinuousClock.now < deadline {
                    logger.notice("replication slot is still active; retrying", metadata: ["slot": "\(options.slot)"])
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            var loop = CDCStreamLoop(
                source: self, tableSchemas: tables.map(\.schema), output: output, stream: replication, start: start)
            loop.lastEmitted = snapshotCheckpoint
            try await loop.run()
            try? await replication.sendStatusUpdate()
        } catch {
            stream.withLock { $0 = nil }
            await replication.close()
            throw PostgresCDCSource.sourceError(error)
        }
        stream.withLock { $0 = nil }
        await replication.close()
    }

    /// Fails unless updates and deletes of every table identify their row.
    private func checkReplicaIdentity(_ admin: PostgresConnection) async throws {
        for t in options.tables {
            let qualifiedTable = t.qualified
            let rows = try await admin.query(
                """
                SELECT c.relreplident::text,
                       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text,
                       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)::text
                FROM pg_class c WHERE c.oid = to_regclass($1)
                """, parameters: [qualifiedTable])
            guard let row = rows.first else {
                throw DponeError(.schema, "table \(qualifiedTable) does not exist", context: ["table": qualifiedTable])
            }
            let identity = row[0] ?? "d"
            let usable =
                switch identity {
                case "f": true
                case "d": row[1] == "true"
                case "i": row[2] == "true"
                default: false
                }
            guard usable else {
                let what = identity == "n" ? "REPLICA IDENTITY NOTHING" : "REPLICA IDENTITY DEFAULT without a primary key"
                throw DponeError(
                    .schema,
                    "table \(qualifiedTable) has no usable replica identity (\(what)): its updates and deletes cannot be replicated",
                    hint: "add a primary key, or ALTER TABLE \(qualifiedTable) REPLICA IDENTITY FULL (or USING INDEX a unique index)",
                    context: ["table": qualifiedTable])
            }
        }
    }

    /// The publication must exist and include every table; created for them when missing and `create`.
    private func requirePublication(_ admin: PostgresConnection, create: Bool) async throws {
        let publication = PostgresSQL.quoteIdentifier(options.publication)
        let exists = try await !admin.query("SELECT 1 FROM pg_publication WHERE pubname = $1", parameters: [options.publication])
            .isEmpty
        if !exists {
            guard create else {
                throw DponeError(
                    .source, "publication \(options.publication) does not exist",
                    hint: "CREATE PUBLICATION \(publication) FOR TABLE \(tableList), or set cdc.create: true")
            }
            try await admin.execute("CREATE PUBLICATION \(publication) FOR TABLE \(tableList)")
            logger.notice("created publication", metadata: ["publication": "\(options.publication)", "tables": "\(tableList)"])
            return
        }
        var missing: [String] = []
        for t in options.tables {
            let included = try await !admin.query(
                "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
                parameters: [options.publication, t.schema, t.table]
            ).isEmpty
            if !included { missing.append(t.qualified) }
        }
        guard missing.isEmpty else {
            throw DponeError(
                .source, "publication \(options.publication) does not include \(missing.joined(separator: ", "))",
                hint: "ALTER PUBLICATION \(publication) ADD TABLE \(missing.joined(separator: ", "))")
        }
    }

    /// A piece of the initial snapshot: a table, or a range of its heap pages (`[from, to)`; `to`
    /// nil: to the end).
    struct SnapshotPart: Sendable {
        var route: Int
        var pages: (from: Int64, to: Int64?)?
    }

    /// The snapshot's parts: a plain table larger than `snapshotRangeBytes` is split into ranges of
    /// heap pages (ctid ranges, TID range scans on PostgreSQL 14+) of about that size.
    private func snapshotParts(_ tables: [PostgresTable]) async throws -> [SnapshotPart] {
        guard options.snapshotParallelism > 1 else { return tables.indices.map { SnapshotPart(route: $0, pages: nil) } }
        let connection = try await PostgresConnection.connect(url: options.url)
        do {
            var parts: [SnapshotPart] = []
            for (route, table) in tables.enumerated() {
                let row = try await connection.query(
                    "SELECT c.relkind::text, pg_relation_size(c.oid)::text, current_setting('block_size') FROM pg_class c WHERE c.oid = to_regclass($1)",
                    parameters: [table.qualifiedName]
                ).first
                let bytes = row.flatMap { $0.count == 3 ? Int64($0[1] ?? "") : nil } ?? 0
                let blockSize = row.flatMap { $0.count == 3 ? Int64($0[2] ?? "") : nil } ?? 8192
                let ranges = bytes > options.snapshotRangeBytes ? min(256, Int((bytes + options.snapshotRangeBytes - 1) / options.snapshotRangeBytes)) : 1
                guard row?.first == "r", ranges > 1 else {
                    parts.append(SnapshotPart(route: route, pages: nil))
                    continue
                }
                let pages = max(1, bytes / blockSize)
                let step = (pages + Int64(ranges) - 1) / Int64(ranges)
                for i in 0..<ranges {
                    let from = Int64(i) * step
                    parts.append(SnapshotPart(route: route, pages: (from, i == ranges - 1 ? nil : from + step)))
                }
            }
            await connection.close()
            return parts
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Copies every table as of the exported snapshot into insert rows of its route stamped with
    /// `lsn`, `snapshotParallelism` parts (tables, or page ranges of a large table) at once, each on
    /// its own connection.
    private func snapshot(
        _ tables: [PostgresTable], snapshotName: String, lsn: LSN, into output: any SourceOutput
    ) async throws {
        let parts = try await snapshotParts(tables)
        if parts.count > tables.count {
            logger.notice("copying in ranges", metadata: ["parts": "\(parts.count)", "parallelism": "\(options.snapshotParallelism)"])
        }
        let width = min(options.snapshotParallelism, parts.count)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func start(_ part: SnapshotPart) {
                group.addTask {
                    let connection = try await PostgresConnection.connect(url: self.options.url)
                    do {
                        try await self.copy(
                            tables[part.route], route: part.route, pages: part.pages, snapshotName: snapshotName, lsn: lsn,
                            on: connection, into: output)
                        await connection.close()
                    } catch {
                        await connection.close()
                        throw error
                    }
                }
            }
            while next < width {
                start(parts[next])
                next += 1
            }
            while try await group.next() != nil {
                if next < parts.count {
                    start(parts[next])
                    next += 1
                }
            }
        }
    }

    /// Copies one table as of the exported snapshot into insert rows of `route` stamped with `lsn`.
    private func copy(
        _ table: PostgresTable, route: Int, pages: (from: Int64, to: Int64?)?, snapshotName: String, lsn: LSN,
        on connection: PostgresConnection, into output: any SourceOutput
    ) async throws {
        let schema = table.schema
        let outSchema = Self.outputSchema(for: schema)
        let formats = table.wireFormats
        var range = ""
        if let pages {
            range = " WHERE ctid >= '(\(pages.from),0)'::tid" + (pages.to.map { " AND ctid < '(\($0),0)'::tid" } ?? "")
        }
        let sql = "COPY (SELECT \(table.selectList) FROM \(table.qualifiedName)\(range)) TO STDOUT (FORMAT binary)"
        let batchRows = options.batchRows
        let flag = CancellationFlag()
        let what = "copying \(table.qualifiedName)"
        let logger = self.logger
        try await withTaskCancellationHandler {
            try await connection.run { session in
                try session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                do {
                    try session.execute("SET TRANSACTION SNAPSHOT \(PostgresSQL.quoteLiteral(snapshotName))")
                    var decoder = try CopyBinaryDecoder(schema: schema, formats: formats)
                    var builder = BatchBuilder(schema: schema, reservingCapacity: min(batchRows, 65_536))
                    var rows = 0
                    func emit() throws {
                        let n = builder.rowCount
                        guard n > 0 else { return }
                        var lsnColumn = ColumnBuilder(type: .int64, reservingCapacity: n)
                        var unchanged = ColumnBuilder(type: .string)
                        for _ in 0..<n {
                            lsnColumn.append(Int64(bitPattern: lsn.value))
                            unchanged.appendNull()
                        }
                        let batch = Batch(
                            schema: outSchema, columns: builder.finish().columns + [lsnColumn.finish(), unchanged.finish()],
                            operations: Array(repeating: .insert, count: n))
                        rows += n
                        try output.sendBlocking(batch, route: route)
                    }
                    _ = try session.copyOut(sql) { chunk in
                        try flag.check(what)
                        try decoder.decode(chunk, into: &builder)
                        if builder.rowCount >= batchRows || builder.byteCount >= CDCStreamLoop.batchBytes { try emit() }
                    }
                    try decoder.finish()
                    try emit()
                    try session.execute("COMMIT")
                    logger.notice(
                        "snapshot copied",
                        metadata: [
                            "table": "\(table.qualifiedName)", "rows": "\(rows)",
                            "pages": "\(pages.map { "\($0.from)..<\($0.to.map(String.init) ?? "end")" } ?? "all")",
                        ])
                } catch {
                    try? session.execute("ROLLBACK")
                    throw error
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }

    var durableCheckpoint: CheckpointID? { durable.withLock { $0 } }
    var durablePosition: LSN? { durableLSN.withLock { $0 } }

    static func sourceError(_ error: any Error) -> any Error {
        if let pg = error as? PostgresError { return pg.dponeError(.source) }
        return error
    }
}

enum ReplicationStreamNames {
    static func isValidSlot(_ name: String) -> Bool {
        (try? ReplicationStream.validateSlotName(name)) != nil
    }
}

