import Flow
import Foundation

/// The rows of one replicated table (one output route) not yet emitted.
struct CDCRouteBuffer {
    let table: PostgresCDCTable
    /// The table's current shape (it changes when an `ALTER TABLE` reaches the stream).
    private(set) var tableSchema: Schema
    private(set) var outputSchema: Schema
    var rows: BatchBuilder
    /// Rows of an earlier shape, taken out when the shape changed and not sent yet.
    private var pending: [Batch] = []
    var lsnColumn = ColumnBuilder(type: .int64)
    var unchangedColumn = ColumnBuilder(type: .string)
    var operations: [RowOperation] = []
    var builder: PgOutputRowBuilder?
    var keyIndexes: [Int] = []

    init(table: PostgresCDCTable, tableSchema: Schema) {
        self.table = table
        self.tableSchema = tableSchema
        self.outputSchema = PostgresCDCSource.outputSchema(for: tableSchema)
        rows = BatchBuilder(schema: tableSchema, reservingCapacity: 1024)
    }

    var qualified: String { table.qualified }

    /// Appends a change stamped with `lsn` (its transaction's position, see `CDCStreamLoop.handle`).
    mutating func append(
        _ tuple: PgOutputTuple, _ op: RowOperation, lsn: LSN, fallback: PgOutputTuple? = nil, moved: Bool = false
    ) throws {
        guard let builder else {
            throw DponeError(.source, "a change of \(qualified) arrived before its relation message")
        }
        let unchanged = try builder.append(tuple, to: &rows, fallback: fallback)
        if unchanged.isEmpty || op == .delete {
            unchangedColumn.appendNull()
        } else {
            let names = unchanged.indexes.map { tableSchema[$0].name } + (moved ? [FinalizerSQL.movedMarker] : [])
            let json = String(decoding: (try? JSONEncoder().encode(names)) ?? Data("[]".utf8), as: UTF8.self)
            unchangedColumn.append(string: json)
        }
        operations.append(op)
        lsnColumn.append(Int64(bitPattern: lsn.value))
    }

    /// From now on rows have the shape `schema`: the rows buffered so far leave as a batch of the
    /// old shape first (every batch has one shape; sinks follow the change between two batches).
    mutating func reshape(to schema: Schema) {
        if let batch = take() { pending.append(batch) }
        tableSchema = schema
        outputSchema = PostgresCDCSource.outputSchema(for: schema)
        rows = BatchBuilder(schema: schema, reservingCapacity: 1024)
    }

    /// The table was truncated at `lsn`: the rows so far leave first, then one batch whose only row
    /// is the truncate (columns NULL).
    mutating func appendTruncate(lsn: LSN) {
        if let batch = take() { pending.append(batch) }
        var marker = BatchBuilder(schema: tableSchema, reservingCapacity: 1)
        marker.append(row: [Value](repeating: .null, count: tableSchema.count))
        var lsnColumn = ColumnBuilder(type: .int64)
        lsnColumn.append(Int64(bitPattern: lsn.value))
        var unchanged = ColumnBuilder(type: .string)
        unchanged.appendNull()
        pending.append(
            Batch(schema: outputSchema, columns: marker.finish().columns + [lsnColumn.finish(), unchanged.finish()], operations: [.truncate]))
    }

    /// Every buffered row, oldest shape first.
    mutating func drain() -> [Batch] {
        var batches = pending
        pending.removeAll()
        if let batch = take() { batches.append(batch) }
        return batches
    }

    /// The buffered rows of the current shape as one batch (nil when there are none).
    private mutating func take() -> Batch? {
        let n = rows.rowCount
        guard n > 0 else { return nil }
        precondition(lsnColumn.count == n && unchangedColumn.count == n && operations.count == n)
        let batch = Batch(
            schema: outputSchema, columns: rows.finish().columns + [lsnColumn.finish(), unchangedColumn.finish()],
            operations: operations)
        operations.removeAll(keepingCapacity: true)
        return batch
    }
}

/// The streaming part of one `PostgresCDCSource.run` (one task).
struct CDCStreamLoop {
    let source: PostgresCDCSource
    let output: any SourceOutput
    let stream: ReplicationStream
    var options: PostgresCDCSourceOptions { source.options }

    var routes: [CDCRouteBuffer]
    /// The route of each relation id seen in a relation message (tables the manifest names only).
    var routeOf: [UInt32: Int] = [:]

    var inTransaction = false
    /// The open transaction's stamp and how many changes of the replicated tables it had so far.
    var transactionLSN = LSN.invalid
    var transactionChanges = 0
    /// End of the last commit received (or the start position).
    var lastCommitEnd: LSN
    /// The lsn of the last checkpoint emitted.
    var checkpointLSN: LSN
    /// Changes received since the last checkpoint.
    var dirty = false
    var lastCheckpoint = ContinuousClock.now
    var lastEmitted: CheckpointID?
    /// When the first commit not yet in a checkpoint arrived, and per emitted checkpoint not yet
    /// durable when its first commit arrived: the replication lag in seconds is the age of the oldest.
    var firstDirtyAt: ContinuousClock.Instant?
    var inFlight: [(lsn: LSN, since: ContinuousClock.Instant)] = []

    init(source: PostgresCDCSource, tableSchemas: [Schema], output: any SourceOutput, stream: ReplicationStream, start: LSN) {
        self.source = source
        self.output = output
        self.stream = stream
        routes = zip(source.options.tables, tableSchemas).map { CDCRouteBuffer(table: $0, tableSchema: $1) }
        lastCommitEnd = start
        checkpointLSN = start
    }

    mutating func run() async throws {
        let mode = options.mode
        let idleSeconds = max(options.idleCheckpointSeconds, mode.checkpointInterval)
        while !mode.stop.isStopped {
            let got = try await stream.receive(timeout: .milliseconds(200))
            if Task.isCancelled { throw CancellationError() }
            if got.endOfStream {
                throw DponeError(.source, "the server ended replication of slot \(options.slot)")
            }
            for message in got.messages { try handle(message.message) }
            recordLag(serverWAL: max(got.serverWALEnd, lastCommitEnd))
            // Full batches go out even inside a transaction (memory stays bounded whatever its
            // size); a checkpoint, which publishes, only ever falls between transactions.
            if routes.contains(where: { $0.rows.rowCount >= options.batchRows || $0.rows.byteCount >= Self.batchBytes }) {
                try await emit()
            }
            guard !inTransaction else { continue }
            let elapsed = ContinuousClock.now - lastCheckpoint
            if dirty {
                if elapsed >= .milliseconds(Int(mode.checkpointInterval * 1000)) { try await checkpoint(at: lastCommitEnd) }
            } else if got.messages.isEmpty, elapsed >= .milliseconds(Int(idleSeconds * 1000)),
                lastEmitted.map({ id in source.durableCheckpoint.map { $0 >= id } ?? false }) ?? true
            {
                // Nothing in flight: everything received is published. Let the slot follow the
                // server's WAL (through a checkpoint, so the state never lags the slot).
                let position = max(lastCommitEnd, got.serverWALEnd)
                if position > checkpointLSN { try await checkpoint(at: position) }
            }
        }
        // Stop: finish the open transaction (the server sends a transaction only once it committed,
        // so its end is already on the way; rows of it may be staged), publish and wait until it is
        // durable, so the slot is confirmed before the connection closes.
        if inTransaction { try await finishOpenTransaction() }
        if dirty { try await checkpoint(at: lastCommitEnd) }
        if let target = lastEmitted {
            let deadline = ContinuousClock.now + .seconds(120)
            while source.durableCheckpoint.map({ $0 < target }) ?? true {
                if Task.isCancelled { throw CancellationError() }
                guard ContinuousClock.now < deadline else {
                    throw DponeError(.source, "checkpoint \(target) did not become durable within 120 s of the stop request")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Bytes a route buffers before it emits a batch (rows are also capped by `batchRows`).
    static let batchBytes = 8 << 20

    /// Receives until the open transaction's commit (at most 60 s), emitting full batches.
    private mutating func finishOpenTransaction() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while inTransaction {
            if Task.isCancelled { throw CancellationError() }
            guard ContinuousClock.now < deadline else {
                throw DponeError(
                    .source,
                    "stopped inside a transaction whose commit did not arrive within 60 s (\(transactionChanges) changes so far): nothing of it is published",
                    hint: "the next run streams it again from the last durable checkpoint")
            }
            let got = try await stream.receive(timeout: .milliseconds(200))
            if got.endOfStream { throw DponeError(.source, "the server ended replication of slot \(options.slot)") }
            for message in got.messages { try handle(message.message) }
            if routes.contains(where: { $0.rows.rowCount >= options.batchRows || $0.rows.byteCount >= Self.batchBytes }) {
                try await emit()
            }
        }
    }

    private mutating func handle(_ message: PgOutputMessage) throws {
        switch message {
        case .begin(let begin):
            inTransaction = true
            transactionChanges = 0
            // Every change of the transaction carries its commit record's LSN plus one: known at
            // Begin (so rows can leave before the commit), ordered like commits, above the slot's
            // consistent point (the snapshot rows' stamp) and never above the commit's end LSN
            // (what a checkpoint records), so a replay of it is recognised as applied.
            transactionLSN = LSN(begin.finalLSN.value + 1)
        case .commit(let commit):
            let changed = transactionChanges
            transactionChanges = 0
            if changed > 0 {
                dirty = true
                if firstDirtyAt == nil { firstDirtyAt = .now }
            }
            lastCommitEnd = commit.endLSN
            inTransaction = false
        case .relation(let relation):
            guard let r = routes.firstIndex(where: { $0.table.schema == relation.namespace && $0.table.table == relation.name })
            else {
                // A table of the publication the manifest does not name.
                routeOf[relation.id] = nil
                return
            }
            try bind(relation, to: r)
        case .insert(let insert):
            guard let r = routeOf[insert.relationID] else { return }
            try routes[r].append(insert.new, .insert, lsn: transactionLSN)
            transactionChanges += 1
        case .update(let update):
            guard let r = routeOf[update.relationID] else { return }
            var fallback: PgOutputTuple?
            var moved = false
            switch update.old {
            case .key(let old)?:
                // 'K' is sent only when the key changed.
                try routes[r].append(old, .delete, lsn: transactionLSN)
                moved = true
            case .full(let old)?:
                if routes[r].keyIndexes.contains(where: { old[$0] != update.new[$0] }) {
                    try routes[r].append(old, .delete, lsn: transactionLSN)
                    moved = true
                }
                fallback = old
            case nil:
                break
            }
            // A moved row's unchanged TOAST values are the old key's (the sink reads them there).
            try routes[r].append(update.new, .update, lsn: transactionLSN, fallback: fallback, moved: moved)
            transactionChanges += 1
        case .delete(let delete):
            guard let r = routeOf[delete.relationID] else { return }
            try routes[r].append(delete.old.tuple, .delete, lsn: transactionLSN)
            transactionChanges += 1
        case .truncate(let truncate):
            for id in truncate.relationIDs {
                guard let r = routeOf[id] else { continue }
                guard options.truncatesTarget else {
                    throw DponeError(
                        .source, "\(routes[r].qualified) was truncated while streaming (source.options.cdc.on_truncate is fail)",
                        hint: "set cdc.on_truncate: truncate_target to empty the target at that point of the stream, or reset the state so the next run snapshots the tables again",
                        context: ["table": routes[r].qualified, DponeError.permanentKey: "true"])
                }
                routes[r].appendTruncate(lsn: transactionLSN)
                transactionChanges += 1
            }
        default:
            break
        }
    }

    private mutating func bind(_ relation: PgOutputRelation, to r: Int) throws {
        let route = routes[r]
        if relation.replicaIdentity == .nothing {
            throw DponeError(
                .schema, "table \(route.qualified) has REPLICA IDENTITY NOTHING: its updates and deletes cannot be replicated",
                hint: "add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL")
        }
        let shape = try shape(of: relation, current: route.tableSchema)
        if shape != route.tableSchema {
            // An ALTER TABLE: rows so far keep their shape; the sinks add, widen or keep the
            // columns when the first row of the new shape reaches them.
            source.logger.notice(
                "table shape changed while streaming",
                metadata: ["table": "\(route.qualified)", "was": "\(route.tableSchema.names)", "now": "\(shape.names)"])
            routes[r].reshape(to: shape)
        }
        routes[r].builder = try PgOutputRowBuilder(relation: relation, schema: shape)
        let keys = Set(relation.keyColumns)
        routes[r].keyIndexes = relation.columns.indices.filter { keys.contains(relation.columns[$0].name) }
        routeOf = routeOf.filter { $0.value != r }
        routeOf[relation.id] = r
    }

    /// The table's shape as `relation` describes it: its columns in order; a column the stream had
    /// keeps its field unless the relation maps it to another type (a user type the relation cannot
    /// describe keeps the field read from the catalog); a new column is nullable. A column the
    /// relation no longer has is left out (the sinks keep it, NULL from then on).
    private func shape(of relation: PgOutputRelation, current: Schema) throws -> Schema {
        var fields: [Field] = []
        for column in relation.columns {
            let alone = PgOutputRelation(
                id: relation.id, namespace: relation.namespace, name: relation.name, replicaIdentity: relation.replicaIdentity,
                columns: [column])
            let mapped = { try PgOutputRowBuilder.schema(for: alone, policy: options.typePolicy).fields[0].type }
            if let old = current.fields.first(where: { $0.name == column.name }) {
                guard let type = try? mapped(), type != old.type else {
                    fields.append(old)
                    continue
                }
                fields.append(Field(old.name, type, nullable: old.nullable))
            } else {
                do {
                    fields.append(Field(column.name, try mapped(), nullable: true))
                } catch var error as DponeError {
                    error.message = "column \"\(column.name)\" added to \(relation.qualifiedName) while streaming: " + error.message
                    throw error
                }
            }
        }
        return Schema(fields)
    }

    /// Sends the rows of complete transactions, route by route.
    private mutating func emit() async throws {
        for r in routes.indices {
            for batch in routes[r].drain() { try await output.send(batch, route: r) }
        }
    }

    private mutating func checkpoint(at lsn: LSN) async throws {
        try await emit()
        lastEmitted = try await output.checkpoint(
            positions: CDCPositions(slot: options.slot, lsn: lsn, snapshotDone: true).stateValue)
        checkpointLSN = lsn
        dirty = false
        lastCheckpoint = .now
        if let since = firstDirtyAt { inFlight.append((lsn, since)) }
        firstDirtyAt = nil
    }

    /// Replication lag gauges (label `slot`): bytes of WAL the server has beyond the durable lsn,
    /// and seconds the oldest change not yet durable has waited (0 when everything is durable).
    private mutating func recordLag(serverWAL: LSN) {
        let durable = source.durablePosition
        if let durable { inFlight.removeAll { $0.lsn <= durable } }
        let oldest = inFlight.first?.since ?? firstDirtyAt
        let age = oldest.map { ContinuousClock.now - $0 } ?? .zero
        let seconds = Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18
        let bytes = durable.map { serverWAL > $0 ? Double(serverWAL.value - $0.value) : 0 } ?? 0
        let slot = [("slot", options.slot)]
        MetricsRegistry.shared.set(
            "dpone_replication_lag_bytes", bytes, labels: slot,
            help: "WAL the server has written beyond the last durable checkpoint's lsn (what the slot retains for dpone).")
        MetricsRegistry.shared.set(
            "dpone_replication_lag_seconds", seconds, labels: slot,
            help: "Age of the oldest received change whose checkpoint is not durable yet (0: all durable).")
    }
}
