import Flow
import Manifest

/// The kafka keys of `source.options` / `sink.options`.
struct KafkaOptionsDecoder {
    static let sourceKeys = [
        "format", "envelope", "kafka", "schema_registry", "start", "read_mode", "time_window", "max_records",
        "offset_storage", "group_id", "on_decode_error", "quarantine", "tombstones", "metadata", "sample_records",
        "stall_timeout", "key_format",
    ]
    static let sinkKeys = ["format", "envelope", "kafka", "schema_registry", "delivery_timeout"]

    let ctx: DecodingContext

    /// The kafka keys of `source.options` / `sink.options` (the shared keys are read by the manifest).
    func kafkaOptions(_ map: MappingReader, role: String) -> KafkaOptions {
        var o = KafkaOptions()
        func choice(_ key: String, _ allowed: [String]) -> String? {
            map[key].flatMap { ctx.choice($0, key.replacingOccurrences(of: "_", with: " "), among: allowed) }
        }
        if let f = choice("format", KafkaOptions.formats) { o.format = f }
        if let e = choice("envelope", role == "source" ? KafkaOptions.sourceEnvelopes : KafkaOptions.sinkEnvelopes) { o.envelope = e }
        if let r = map["kafka"], let props = ctx.mapping(r) {
            for entry in props.entries {
                guard let v = ctx.value(entry.value) else { continue }
                switch v {
                case .string(let s): o.properties[entry.key] = s
                case .int(let i): o.properties[entry.key] = String(i)
                case .bool(let b): o.properties[entry.key] = String(b)
                case .double(let d): o.properties[entry.key] = String(d)
                default: ctx.fail(entry.value, "kafka property \(entry.key) must be a string, number or boolean")
                }
            }
            if o.properties["bootstrap.servers"] != nil {
                ctx.fail(r, "bootstrap.servers comes from the connection, not options.kafka", hint: "set connection.url: kafka://host:9092,host2:9092")
            }
        }
        if let r = map["schema_registry"], let reg = ctx.mapping(r) {
            reg.rejectUnknownKeys(["url", "username", "password", "subject_strategy", "record_name"], ctx)
            if let url = reg.required("url", ctx).flatMap({ ctx.string($0) }) {
                var config = SchemaRegistryConfig(
                    url: url, username: reg["username"].flatMap { ctx.string($0) }, password: reg["password"].flatMap { ctx.string($0) })
                if let r = reg["subject_strategy"], let text = ctx.string(r) {
                    if SchemaRegistryConfig.subjectStrategies.contains(text) {
                        config.subjectStrategy = text
                    } else {
                        ctx.fail(
                            r, "unknown subject strategy '\(text)'; expected one of: \(SchemaRegistryConfig.subjectStrategies.joined(separator: ", "))",
                            hint: Suggestion.hint(for: text, in: SchemaRegistryConfig.subjectStrategies))
                    }
                }
                config.recordName = reg["record_name"].flatMap { ctx.string($0) }
                if role == "source", config.subjectStrategy != "topic_name", config.recordName == nil, let r = reg["subject_strategy"] {
                    ctx.fail(r, "subject_strategy '\(config.subjectStrategy)' needs record_name (the record's full name) to find the reader schema")
                }
                o.schemaRegistry = config
            }
        }
        if o.format != "json" && o.schemaRegistry == nil, let r = map["format"] {
            ctx.fail(r, "format '\(o.format)' needs schema_registry: {url: ...}")
        }
        guard role == "source" else {
            if let r = map["delivery_timeout"] { o.deliveryTimeoutSeconds = ctx.positiveInt(r) }
            return o
        }
        if let r = map["start"], let text = ctx.string(r) {
            if KafkaOptions.starts.contains(text) {
                o.start = text
            } else if let micros = timestamp(text) {
                o.start = "timestamp"
                o.startTimestampMicros = micros
            } else {
                ctx.fail(r, "unknown start '\(text)'; expected committed, earliest, latest or an RFC 3339 time (2026-11-01T00:00:00Z)")
            }
        }
        if let m = choice("read_mode", KafkaOptions.readModes) { o.readMode = m }
        if let r = map["time_window"], let w = ctx.mapping(r) {
            w.rejectUnknownKeys(["from", "to"], ctx)
            if let f = w.required("from", ctx), let text = ctx.string(f) {
                o.windowFromMicros = timestamp(text)
                if o.windowFromMicros == nil { ctx.fail(f, "expected an RFC 3339 time, found '\(text)'") }
            }
            if let t = w["to"], let text = ctx.string(t) {
                o.windowToMicros = timestamp(text)
                if o.windowToMicros == nil { ctx.fail(t, "expected an RFC 3339 time, found '\(text)'") }
            }
        }
        if o.readMode == "time_window", map["time_window"] == nil, let r = map["read_mode"] {
            ctx.fail(r, "read_mode 'time_window' needs time_window: {from: ..., to: ...}")
        }
        if let r = map["max_records"] { o.maxRecords = ctx.positiveInt(r) }
        if o.readMode == "max_records", map["max_records"] == nil, let r = map["read_mode"] {
            ctx.fail(r, "read_mode 'max_records' needs max_records: N")
        }
        if let s = choice("offset_storage", KafkaOptions.offsetStorages) { o.offsetStorage = s }
        o.groupID = map["group_id"].flatMap { ctx.string($0) }
        if let p = choice("on_decode_error", KafkaOptions.decodeErrorPolicies) { o.onDecodeError = p }
        if let r = map["quarantine"], let q = ctx.mapping(r) {
            q.rejectUnknownKeys(["path", "max_messages"], ctx)
            o.quarantinePath = q.required("path", ctx).flatMap { ctx.string($0) }
            if let m = q["max_messages"], let n = ctx.positiveInt(m) { o.quarantineMaxMessages = n }
        }
        if o.onDecodeError == "quarantine", o.quarantinePath == nil, let r = map["on_decode_error"] {
            ctx.fail(r, "on_decode_error 'quarantine' needs quarantine: {path: ...}")
        }
        if let t = choice("tombstones", KafkaOptions.tombstonePolicies) { o.tombstones = t }
        if let k = choice("key_format", KafkaOptions.keyFormats) {
            o.keyFormat = k
            if ["avro", "protobuf", "json_schema"].contains(k), map["schema_registry"] == nil, let r = map["key_format"] {
                ctx.fail(r, "key_format '\(k)' reads keys framed by a schema registry", hint: "add schema_registry: {url: ...}")
            }
        }
        if let r = map["metadata"], let b = ctx.bool(r) { o.metadata = b }
        if let r = map["sample_records"] { o.sampleRecords = ctx.positiveInt(r) }
        if let r = map["stall_timeout"] { o.stallTimeoutSeconds = ctx.positiveInt(r) }
        return o
    }

    private func timestamp(_ text: String) -> Int64? {
        var t = text
        return t.withUTF8 { ScalarParsing.timestamp(UnsafeRawBufferPointer($0), requireTime: true) }.flatMap { $0.hasZone ? $0.micros : nil }
    }
}

extension KafkaDescriptor {
    public var address: EndpointAddress { .topic }
    public var sourceOptionKeys: [String]? { KafkaOptionsDecoder.sourceKeys }
    public var sinkOptionKeys: [String]? { KafkaOptionsDecoder.sinkKeys }
    /// Kafka events: snapshot, inserts, upserts and tombstones. A predicate window, a partition,
    /// history rows or backfill chunks cannot be replaced in a topic.
    public var supportedModes: [LoadMode] { [.fullRefresh, .incrementalAppend, .incrementalMerge, .snapshotDiff, .cdcApply] }
    /// Every Kafka strategy carries deletes: as tombstones, or as the envelope's delete events.
    public func appliesDeletes(_ strategy: StrategyConfig) -> Bool { true }
    /// `tombstones: delete`, or an envelope with delete events (what `KafkaSource.emitsDeletes` reads).
    public func deleteSendingOption(_ source: SourceConfig) -> String? {
        guard let o = source.options.kafka else { return nil }
        if o.tombstones == "delete" { return "tombstones" }
        return o.envelope == "flat" ? nil : "envelope"
    }

    public func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {
        guard let map = options.map else { return }
        source.options.kafka = KafkaOptionsDecoder(ctx: options.ctx).kafkaOptions(map, role: "source")
    }

    public func decodeSinkOptions(_ options: OptionsReader, into sink: inout SinkConfig) {
        guard let map = options.map else { return }
        sink.options.kafka = KafkaOptionsDecoder(ctx: options.ctx).kafkaOptions(map, role: "sink")
    }

    /// A topic source reads only the messages after its committed offsets.
    public func partialRead(_ source: SourceConfig, _ document: DocumentReader) -> PartialRead? {
        PartialRead(
            what: "a kafka source reads only the messages after its committed offsets",
            fix: "load from a table or file that holds the whole data set", at: document.node("source", "type"))
    }
}
