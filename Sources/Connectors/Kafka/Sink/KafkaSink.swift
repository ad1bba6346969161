import ConnectorKit
import Formats
import Flow
import Foundation
import Logging

/// Produces rows as Kafka events.
///
/// Each row becomes one message: the value is the row (flat) or a dpone envelope, the key the JSON
/// object of the key columns (`unique_key`; no key without one), headers carry the pipeline, load id
/// and operation. Rows a batch marks deleted become tombstones (flat) or `op: delete` events.
/// The producer is idempotent by default; a checkpoint is acknowledged only after every delivery
/// report for it arrived successfully (any failed delivery fails the checkpoint, so its positions are
/// not committed and the next run re-sends them).
///
/// Across a crash between delivery and the state write, the replayed checkpoint is produced again:
/// the topic is at-least-once, and consumers that apply events by key (upserts, tombstones) converge.
public actor KafkaSink: SinkOperator {
    public nonisolated let name: String
    public nonisolated let options: KafkaSinkOptions
    nonisolated let logger = Logger(label: "dpone.kafka.sink")
    nonisolated let thread = DedicatedThread(name: "dpone-kafka-sink")

    struct State: Sendable {
        var producer: KafkaProducerHandle?
        var schema: Schema?
        var valueEncoder: JSONLinesEncoder?
        var keyEncoder: JSONLinesEncoder?
        var keyIndexes: [Int] = []
        var produced = 0
        var headers: [(String, [UInt8])] = []
        /// Registry formats: the encoder of the registered value schema and the wire header.
        var wire: WireValueEncoder?
    }

    var state = State()
    let loadID: String
    let pipeline: String

    public init(name: String, options: KafkaSinkOptions, pipeline: String, loadID: String) throws {
        guard options.properties["bootstrap.servers"] != nil else {
            throw DponeError(.manifest, "a kafka sink needs bootstrap servers (connection url kafka://host:port,...)")
        }
        if options.format.usesRegistry && options.registry == nil {
            throw DponeError(.manifest, "format \(options.format.rawValue) needs sink.options.schema_registry.url")
        }
        if options.format.usesRegistry && options.envelope != .flat {
            throw DponeError(.manifest, "envelope \(options.envelope.rawValue) is JSON: it needs format json")
        }
        self.name = name
        self.options = options
        self.pipeline = pipeline
        self.loadID = loadID
    }

    deinit { thread.stop() }

    public func open(schema: Schema) async throws {
        for key in options.keyColumns where schema.index(of: key) == nil {
            throw DponeError(
                .schema, "unique_key column \(key) is not among the columns (\(schema.names.joined(separator: ", ")))",
                context: ["topic": options.topic])
        }
        let keyIndexes = options.keyColumns.compactMap { schema.index(of: $0) }
        let options = self.options
        let producer = try await thread.run { try KafkaProducerHandle(properties: options.producerProperties) }
        let headers: [(String, [UInt8])] = [("dpone.pipeline", Array(pipeline.utf8)), ("dpone.load_id", Array(loadID.utf8))]
        let wire: WireValueEncoder?
        do {
            wire = try await WireValueEncoder.register(schema: schema, options: options)
        } catch {
            _ = try? await thread.run { producer.destroy() }
            throw error
        }
        state = State(
            producer: producer, schema: schema, valueEncoder: JSONLinesEncoder(schema: schema),
            keyEncoder: keyIndexes.isEmpty ? nil : JSONLinesEncoder(schema: Schema(keyIndexes.map { schema[$0] })),
            keyIndexes: keyIndexes, headers: headers, wire: wire)
    }

    public func write(_ batch: Batch) async throws {
        guard batch.rowCount > 0 else { return }
        if batch.operations?.first == .truncate {
            throw DponeError(
                .usage, "the source table was truncated, and a Kafka topic cannot be emptied (cdc.on_truncate: truncate_target)",
                hint: "set source.options.cdc.on_truncate: fail, or stream into a postgres or clickhouse cdc_apply target",
                context: ["topic": options.topic])
        }
        var shaped = batch
        if let schema = state.schema, schema != batch.schema {
            shaped = try await reshape(batch, from: schema)
        }
        let batch = shaped
        let s = state
        guard let producer = s.producer, let valueEncoder = s.valueEncoder else {
            throw DponeError(.internal, "kafka sink used before open", context: ["sink": name])
        }
        let options = self.options
        let keyBatch = s.keyEncoder.map { Batch(schema: $0.schema, columns: s.keyIndexes.map { batch.columns[$0] }) }
        // The headers of each operation, built once a batch rather than once a row.
        let headersByOp = (0...3).map { raw in
            s.headers + [("dpone.op", Array(Self.opName(RowOperation(rawValue: UInt8(raw)) ?? .upsert, mode: options.mode).utf8))]
        }
        // CDC rows whose update left TOAST values unchanged (the server did not send them): the
        // JSON value omits those columns (a partial row: consumers keep the key's previous values)
        // and the `dpone.unchanged` header lists them, so a placeholder never reaches a consumer as
        // the value. One encoder per distinct list, per batch.
        let unchangedColumn = batch.schema.index(of: TechnicalColumns.unchanged).map { batch.columns[$0] }
        var partialEncoders: [String: (JSONLinesEncoder, Batch)] = [:]
        func partial(_ listed: String) -> (JSONLinesEncoder, Batch) {
            if let cached = partialEncoders[listed] { return cached }
            let names = Set((try? JSONDecoder().decode([String].self, from: Data(listed.utf8))) ?? [])
            let keep = batch.schema.fields.indices.filter { !names.contains(batch.schema[$0].name) }
            let sub = Batch(schema: Schema(keep.map { batch.schema[$0] }), columns: keep.map { batch.columns[$0] }, operations: batch.operations)
            let made = (JSONLinesEncoder(schema: sub.schema), sub)
            partialEncoders[listed] = made
            return made
        }
        var partialRows: [Int: (JSONLinesEncoder, Batch, String)] = [:]
        // Registry formats (a fixed schema) keep the column, NULL, but carry the same header.
        if let unchangedColumn, unchangedColumn.nullCount < batch.rowCount {
            for row in 0..<batch.rowCount where !unchangedColumn.isNull(row) {
                guard case .string(let listed) = unchangedColumn.value(at: row) else { continue }
                let (encoder, sub) = partial(listed)
                partialRows[row] = (encoder, sub, listed)
            }
        }
        let partials = partialRows
        try await thread.run {
            var value: [UInt8] = []
            var key: [UInt8] = []
            for row in 0..<batch.rowCount {
                let op = batch.operations?[row] ?? (options.mode == .insert ? .insert : .upsert)
                key.removeAll(keepingCapacity: true)
                if let keyBatch, let keyEncoder = s.keyEncoder {
                    keyEncoder.encode(keyBatch, rows: row..<(row + 1), into: &key)
                    key.removeLast()  // the encoder's line feed
                }
                value.removeAll(keepingCapacity: true)
                let tombstone = op == .delete && options.envelope == .flat
                if !tombstone {
                    if let wire = s.wire {
                        try wire.encode(batch, row: row, into: &value)
                    } else if let (encoder, sub, _) = partials[row] {
                        Self.encodeValue(sub, row: row, op: op, encoder: encoder, options: options, into: &value)
                    } else {
                        Self.encodeValue(batch, row: row, op: op, encoder: valueEncoder, options: options, into: &value)
                    }
                }
                var headers = headersByOp[Int(op.rawValue)]
                if let (_, _, listed) = partials[row] {
                    headers.append(("dpone.unchanged", Array(listed.utf8)))
                    // A key change (the staged row before it deletes the old key): the unchanged
                    // values are the old key's, named here.
                    if listed.contains(TechnicalColumns.movedMarker), row > 0, batch.operations?[row - 1] == .delete,
                        let keyBatch, let keyEncoder = s.keyEncoder
                    {
                        var old: [UInt8] = []
                        keyEncoder.encode(keyBatch, rows: (row - 1)..<row, into: &old)
                        old.removeLast()
                        headers.append(("dpone.moved_from", old))
                    }
                }
                try key.withUnsafeBytes { k in
                    try value.withUnsafeBytes { v in
                        try producer.produce(
                            topic: options.topic, key: keyBatch == nil ? nil : k, value: tombstone ? nil : v, headers: headers)
                    }
                }
                if row & 1023 == 0 { producer.poll() }
            }
        }
        state.produced += batch.rowCount
    }

    /// The stream's shape changed (an ALTER TABLE on a CDC source). The value schema evolves the
    /// way the registry's default compatibility (BACKWARD) accepts: a new column is an optional
    /// field, a safely widened one takes its wider type, and a column the source dropped stays, NULL
    /// from then on. A registry format registers that schema as a new version of the subject and
    /// encodes with its id from now on. Returns `batch` in the evolved shape.
    private func reshape(_ batch: Batch, from schema: Schema) async throws -> Batch {
        let (union, plan) = try SchemaEvolution.reshape(staged: schema, incoming: batch.schema, target: "topic \(options.topic)")
        if union != schema {
            let wire = try await WireValueEncoder.register(schema: union, options: options)
            state.schema = union
            state.valueEncoder = JSONLinesEncoder(schema: union)
            state.wire = wire
            logger.notice(
                "the source's shape changed: the value schema evolved",
                metadata: ["topic": "\(options.topic)", "changes": "\(plan.changes)", "schema_id": "\(wire.map { String($0.schemaID) } ?? "none")"])
        }
        // Every column of the evolved shape, a dropped one as NULLs.
        let columns = union.fields.map { field -> Column in
            if let i = batch.schema.index(of: field.name) { return batch.columns[i] }
            var nulls = ColumnBuilder(type: field.type, reservingCapacity: batch.rowCount)
            for _ in 0..<batch.rowCount { nulls.appendNull() }
            return nulls.finish()
        }
        return Batch(schema: union, columns: columns, operations: batch.operations)
    }

    static func opName(_ op: RowOperation, mode: KafkaEventMode) -> String {
        switch (op, mode) {
        case (.delete, _): "delete"
        case (_, .snapshot): "snapshot"
        case (_, .insert): "insert"
        case (.update, _): "update"
        default: "upsert"
        }
    }

    /// The flat row, or `{"op":...,"data":{...},"metadata":{...},"source":{...},"schema_version":1}`.
    static func encodeValue(
        _ batch: Batch, row: Int, op: RowOperation, encoder: JSONLinesEncoder, options: KafkaSinkOptions, into out: inout [UInt8]
    ) {
        guard options.envelope == .dpone else {
            encoder.encode(batch, rows: row..<(row + 1), into: &out)
            out.removeLast()
            return
        }
        out.append(contentsOf: "{\"op\":\"\(opName(op, mode: options.mode))\",\"data\":".utf8)
        encoder.encode(batch, rows: row..<(row + 1), into: &out)
        out.removeLast()
        out.append(contentsOf: ",\"source\":{\"topic\":".utf8)
        JSONLinesEncoder.appendJSONString(options.topic, to: &out)
        out.append(contentsOf: "},\"schema_version\":1}".utf8)
    }

    /// Waits for every delivery report of the checkpoint; any failure fails it.
    public func finalize(_ context: CheckpointContext) async throws -> SinkCommit {
        guard let producer = state.producer else {
            throw DponeError(.internal, "kafka sink used before open", context: ["sink": name])
        }
        let timeout = options.deliveryTimeoutMs
        try await thread.run { try producer.flush(timeoutMs: timeout) }
        FaultPoint.midFinalize.trigger()
        let counts = producer.tracker.take()
        let produced = state.produced
        state.produced = 0
        if counts.failed > 0 || counts.delivered != produced {
            throw DponeError(
                .sink,
                "\(counts.failed) of \(produced) message(s) of checkpoint \(context.id) were not delivered to \(options.topic)\(counts.firstError.map { ": \($0)" } ?? "")",
                hint: "the checkpoint is not acknowledged: its positions stay uncommitted and the next run sends them again",
                context: ["topic": options.topic, "checkpoint": "\(context.id)"])
        }
        logger.info("delivered", metadata: ["topic": "\(options.topic)", "checkpoint": "\(context.id)", "messages": "\(produced)"])
        return SinkCommit(inserted: produced)
    }

    /// Deletes become tombstones (flat) or delete events (dpone envelope).
    public nonisolated var appliesDeletes: Bool { true }

    public func abort() async {
        let producer = state.producer
        state.producer = nil
        if let producer { _ = try? await thread.run { producer.destroy() } }
    }

    public func close() async {
        let producer = state.producer
        state.producer = nil
        if let producer { _ = try? await thread.run { producer.destroy() } }
    }
}
