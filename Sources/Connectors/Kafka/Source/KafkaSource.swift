import CKafka
import Formats
import Flow
import Foundation
import Logging
import Synchronization

/// Reads a bounded window of one Kafka topic (`dpone batch`).
///
/// Per partition the window ends at the high watermark taken when the run starts (or the
/// `time_window` end) and starts at the offset in dpone's state, else the group's committed offset,
/// else `start`. The run reads until every partition's consumed position reaches its end (a stalled
/// partition fails the run after `stallTimeoutSeconds`: never a silent skip), then emits one
/// checkpoint whose positions are the consumed offsets. Only after the sink published and the state
/// is durable (`acknowledge`) are they committed to the group (`offset_storage: kafka`).
///
/// librdkafka calls block: they run on the source's own thread, never on the cooperative pool.
public final class KafkaSource: SourceOperator {
    public let name: String
    public let options: KafkaSourceOptions
    let logger = Logger(label: "dpone.kafka.source")
    let thread: DedicatedThread
    private let state = Mutex<(schema: Schema?, consumer: KafkaConsumerHandle?)>((nil, nil))
    /// Decoders of registry formats (set by `prepareRegistry`).
    private let wireDecoders = Mutex<(any WireDecoderSource)?>(nil)

    public init(name: String, options: KafkaSourceOptions) throws {
        guard options.properties["bootstrap.servers"] != nil else {
            throw DponeError(.manifest, "a kafka source needs bootstrap servers (connection url kafka://host:port,...)")
        }
        if options.format.usesRegistry && options.registry == nil {
            throw DponeError(.manifest, "format \(options.format.rawValue) needs source.options.schema_registry.url")
        }
        self.name = name
        self.options = options
        self.thread = DedicatedThread(name: "dpone-kafka-source")
    }

    deinit { thread.stop() }

    /// The value columns (declared, resolved from the registry, or inferred from a sample), then
    /// the metadata columns when asked for.
    public func outputSchema() async throws -> Schema {
        if let schema = state.withLock({ $0.schema }) { return schema }
        var values: Schema
        if let declared = options.schema {
            values = declared
        } else if options.format.usesRegistry {
            values = try await registryValueSchema()
        } else {
            let options = self.options
            values = try await thread.run { try Self.inferJSON(options) }
        }
        if options.tombstones == .delete {
            // A tombstone's delete row carries only its key: every other value column may be NULL.
            let keys = Set(options.keyColumns)
            values = Schema(values.fields.map { keys.contains($0.name) ? $0 : Field($0.name, $0.type, nullable: true) })
        }
        let schema = options.metadataColumns ? Schema(values.fields + KafkaMetadataColumns.fields) : values
        state.withLock { $0.schema = schema }
        return schema
    }

    /// Registry formats resolve their columns from the subject's latest schema (see
    /// `KafkaSource+Registry.swift`).
    func registryValueSchema() async throws -> Schema {
        let (schema, decoders) = try await KafkaRegistryDecoding.prepare(options: options)
        wireDecoders.withLock { $0 = decoders }
        return schema
    }

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        if let mode = options.continuous { return try await stream(into: output, mode: mode, resumeFrom: resumeFrom) }
        let schema = try await outputSchema()
        let valueSchema = options.metadataColumns ? Schema(Array(schema.fields.dropLast(KafkaMetadataColumns.fields.count))) : schema
        let options = self.options
        let decoders = wireDecoders.withLock { $0 }
        let consumer = try await thread.run { try KafkaConsumerHandle(properties: options.consumerProperties) }
        state.withLock { $0.consumer = consumer }
        let flag = CancellationFlag()
        do {
            try await withTaskCancellationHandler {
                try await thread.run {
                    var job = KafkaReadJob(
                        options: options, consumer: consumer, valueSchema: valueSchema, outputSchema: schema,
                        reader: KafkaRowReader(
                            schema: valueSchema, format: options.format, envelope: options.envelope,
                            tombstones: options.tombstones, wireDecoders: decoders, keys: try Self.keyReader(options, valueSchema)))
                    try job.run(into: output, resumeFrom: resumeFrom, cancel: flag)
                }
            } onCancel: {
                flag.cancel()
            }
        } catch {
            await closeConsumer()
            throw error
        }
    }

    public func acknowledge(_ checkpoint: CheckpointID) async throws {}

    /// Tombstones read as deletes, or an envelope that carries delete events.
    public var emitsDeletes: Bool { options.tombstones == .delete || options.envelope != .flat }

    /// The reader of tombstone keys (`tombstones: delete`).
    static func keyReader(_ options: KafkaSourceOptions, _ valueSchema: Schema) throws -> KafkaKeyReader? {
        guard options.tombstones == .delete else { return nil }
        let registry = try options.registry.map {
            try SchemaRegistryClient(url: $0.url, username: $0.username, password: $0.password, errorKind: .source)
        }
        return KafkaKeyReader(schema: valueSchema, format: options.keyFormat, keyColumns: options.keyColumns, registry: registry)
    }

    /// The running stream job (continuous mode), told of durable checkpoints.
    private let streamJob = Mutex<KafkaStreamJob?>(nil)

    /// `dpone stream`: a consumer-group member on its own thread until the stop signal.
    func stream(into output: any SourceOutput, mode: ContinuousMode, resumeFrom: StateValue?) async throws {
        let stored = try KafkaPositions(resumeFrom, topic: options.topic)?.offsets ?? [:]
        let schema = try await outputSchema()
        let valueSchema = options.metadataColumns ? Schema(Array(schema.fields.dropLast(KafkaMetadataColumns.fields.count))) : schema
        let reader = KafkaRowReader(
            schema: valueSchema, format: options.format, envelope: options.envelope, tombstones: options.tombstones,
            wireDecoders: wireDecoders.withLock { $0 }, keys: try Self.keyReader(options, valueSchema))
        let options = self.options
        try await DedicatedThread.runDetached(name: "dpone-kafka-stream") { [self] cancel in
            let job = KafkaStreamJob(
                options: options, mode: mode, output: output, cancel: cancel, valueSchema: valueSchema, outputSchema: schema,
                reader: reader, stored: stored)
            streamJob.withLock { $0 = job }
            defer { streamJob.withLock { $0 = nil } }
            try job.run()
        }
    }

    /// Commits the durable positions to the group (`offset_storage: kafka`), then closes the
    /// consumer: a batch run has one checkpoint.
    public func acknowledge(_ checkpoint: CheckpointID, positions: StateValue) async throws {
        if options.continuous != nil {
            streamJob.withLock { $0 }?.acknowledged(checkpoint, positions: positions)
            return
        }
        guard options.offsetStorage == .kafka, let consumer = state.withLock({ $0.consumer }),
            let durable = try KafkaPositions(positions, topic: options.topic)
        else {
            await closeConsumer()
            return
        }
        do {
            try await thread.run { try consumer.commit(durable.partitionOffsets) }
        } catch {
            await closeConsumer()
            throw error
        }
        await closeConsumer()
        logger.info("committed offsets to the group", metadata: ["group": "\(options.groupID)", "topic": "\(options.topic)"])
    }

    func closeConsumer() async {
        guard let consumer = state.withLock({ s in defer { s.consumer = nil }; return s.consumer }) else { return }
        _ = try? await thread.run { consumer.close() }
    }

    /// Infers JSON columns from up to `sampleRecords` messages from the earliest retained offsets.
    static func inferJSON(_ options: KafkaSourceOptions) throws -> Schema {
        let consumer = try KafkaConsumerHandle(properties: options.consumerProperties)
        defer { consumer.close() }
        let topic = options.topic
        let partitions = try consumer.partitions(of: topic, timeoutMs: options.requestTimeoutMs)
        var remaining = Set<Int32>()
        var starts: [KafkaPartitionOffset] = []
        for p in partitions {
            let (low, high) = try consumer.watermarks(topic: topic, partition: p, timeoutMs: options.requestTimeoutMs)
            if low < high {
                remaining.insert(p)
                starts.append(KafkaPartitionOffset(topic: topic, partition: p, offset: low))
            }
        }
        var sampler = JSONLinesSchemaSampler(sampleRecords: options.sampleRecords, sourceName: "topic \(topic)")
        var seen = 0
        if !starts.isEmpty { try consumer.assign(starts) }
        let deadline = Date().addingTimeInterval(options.stallTimeoutSeconds)
        while !remaining.isEmpty && seen < options.sampleRecords && Date() < deadline {
            guard let message = consumer.poll(timeoutMs: 200) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { remaining.remove(m.partition) }
                continue
            }
            guard let payload = m.payload, m.len > 0 else { continue }
            // Undecodable messages are left to the read (and its on_decode_error policy).
            let raw = UnsafeRawBufferPointer(start: payload, count: m.len)
            guard (try? JSONObjectReader.forEachMember(of: raw) { _, _, _ in }) != nil else { continue }
            // One sample line per message (a raw newline can only be JSON whitespace).
            var line = UnsafeRawBufferPointer(start: payload, count: m.len).map { $0 == UInt8(ascii: "\n") ? UInt8(ascii: " ") : $0 }
            line.append(UInt8(ascii: "\n"))
            try line.withUnsafeBytes { try sampler.feed($0) }
            seen += 1
        }
        guard seen > 0 else {
            throw DponeError(
                .source, "cannot infer the columns of topic \(topic): it holds no message",
                hint: "declare them under source.options.schema", context: ["topic": topic])
        }
        return try sampler.finish()
    }
}
