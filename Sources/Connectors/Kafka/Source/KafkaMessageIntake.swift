import CKafka
import Flow

/// Turns consumed messages into rows of the source's batches, for the bounded read and the stream
/// alike: the value (and, for tombstones, the key) decoded straight into the builders, the metadata
/// columns, the row's operation, and the `on_decode_error` policy for what does not decode (a
/// half-decoded row is taken back first, so every column keeps the same row count).
struct KafkaMessageIntake {
    let options: KafkaSourceOptions
    let outputSchema: Schema
    var reader: KafkaRowReader
    private var values: BatchBuilder
    private var meta: BatchBuilder
    private var operations: [RowOperation] = []
    let quarantine: KafkaQuarantine?

    init(options: KafkaSourceOptions, valueSchema: Schema, outputSchema: Schema, reader: KafkaRowReader) {
        self.options = options
        self.outputSchema = outputSchema
        self.reader = reader
        values = BatchBuilder(schema: valueSchema, reservingCapacity: min(options.batchRows, 4096))
        meta = BatchBuilder(schema: Schema(options.metadataColumns ? KafkaMetadataColumns.fields : []))
        if case .quarantine(let path, let max) = options.onDecodeError {
            quarantine = KafkaQuarantine(path: path, maxMessages: max)
        } else {
            quarantine = nil
        }
    }

    /// Whether the rows taken so far reach the batch bounds.
    var isFull: Bool { values.rowCount >= options.batchRows || values.byteCount >= options.batchBytes }

    /// Takes one data message (its error code already checked): one row, nothing (a skipped
    /// tombstone), a quarantined message, or a thrown error naming topic, partition and offset.
    mutating func take(_ message: UnsafeMutablePointer<rd_kafka_message_t>) throws {
        let m = message.pointee
        let topic = options.topic
        let value = m.payload.map { UnsafeRawBufferPointer(start: $0, count: m.len) }
        let key = m.key.map { UnsafeRawBufferPointer(start: $0, count: m.key_len) }
        let rowsBefore = values.rowCount
        do {
            guard let op = try reader.read(value: value, key: key, into: &values) else { return }
            operations.append(op)
            if options.metadataColumns {
                meta.columns[0].append(m.partition)
                meta.columns[1].append(m.offset)
                var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
                let ms = rd_kafka_message_timestamp(message, &type)
                if ms >= 0 { meta.columns[2].append(ms * 1000) } else { meta.columns[2].appendNull() }
                if let key { meta.columns[3].append(bytes: key) } else { meta.columns[3].appendNull() }
            }
        } catch {
            for i in values.columns.indices { values.columns[i].truncate(to: rowsBefore) }
            // The registry away is not the message's fault: neither refused nor quarantined, the
            // failure stays transient and `dpone stream` retries from the last checkpoint.
            if let away = error as? DponeError, away.context[DponeError.unavailableKey] == "true" {
                throw DponeError(
                    away.kind, "cannot decode \(topic) partition \(m.partition) offset \(m.offset) yet: \(away.message)",
                    hint: away.hint,
                    context: away.context.merging(
                        ["topic": topic, "partition": String(m.partition), "offset": String(m.offset)]) { a, _ in a })
            }
            let reason = (error as? DponeError)?.message ?? "\(error)"
            guard let quarantine else {
                throw DponeError(
                    .source, "undecodable message at \(topic) partition \(m.partition) offset \(m.offset): \(reason)",
                    hint: "fix the producer, or set source.options.on_decode_error: quarantine; nothing was published or committed",
                    context: [
                        "topic": topic, "partition": String(m.partition), "offset": String(m.offset), DponeError.permanentKey: "true",
                    ])
            }
            try quarantine.add(topic: topic, partition: m.partition, offset: m.offset, key: key, payload: value, error: reason)
        }
    }

    /// The rows taken since the last call as one batch (nil when none); operations are kept when
    /// the source can emit anything but upserts.
    mutating func batch() -> Batch? {
        guard values.rowCount > 0 else { return nil }
        let keep = options.tombstones == .delete || options.envelope != .flat
        let batch = Batch(
            schema: outputSchema, columns: values.finish().columns + meta.finish().columns, operations: keep ? operations : nil)
        operations.removeAll(keepingCapacity: true)
        return batch
    }

    /// Makes quarantined messages durable (before the checkpoint that skips them).
    func syncQuarantine() throws { try quarantine?.flush(sync: true) }
}
