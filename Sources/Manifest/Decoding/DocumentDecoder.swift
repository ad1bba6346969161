import Yams

/// Decodes and validates a whole manifest from a composed YAML tree, reporting into a context.
struct ManifestDecoder {
    let ctx: DecodingContext
    /// The connectors of this build: what each `type` means.
    let specs: [any EndpointSpec]

    static let documentKeys = ["name", "description", "source", "sink", "state", "transforms", "retry"]

    /// The document, or nil when any error was reported.
    func document(_ root: NodeRef) -> ManifestDocument? {
        guard let map = ctx.mapping(root) else { return nil }
        map.rejectUnknownKeys(Self.documentKeys, ctx)
        let name = map.required("name", ctx).flatMap(name)
        let description = map["description"].flatMap { ctx.string($0) }
        let source = map.required("source", ctx).flatMap(source)
        let sink = map.required("sink", ctx).flatMap { self.sink($0, severalTables: sourceListsRoutes(map["source"])) }
        let state = map["state"].map(state) ?? StateConfig()
        let transforms = map["transforms"].map(transforms) ?? []
        let retry = map["retry"].map(retry) ?? RetryConfig()
        guard ctx.errors.isEmpty, let name, let source, let sink, let state, let transforms, let retry else { return nil }
        if sink.strategy.mode == .fullRefresh, source.options.incrementalColumn != nil,
            let cursor = map["source"].flatMap({ ctx.mapping($0) })?["options"].flatMap({ ctx.mapping($0) })?[
                "incremental_column"]
        {
            // A full refresh replaces the whole target, so an incremental read would replace it with
            // only the rows that are new since the last run.
            ctx.fail(
                cursor, "incremental_column cannot be used with strategy mode 'full_refresh'",
                hint: "use mode incremental_append (or incremental_merge) to load only new rows, or drop incremental_column")
            return nil
        }
        if !partialReadFits(source: source, sink: sink, map: map) { return nil }
        var document = ManifestDocument(
            name: name, description: description, source: source, sink: sink, state: state, transforms: transforms)
        document.retry = retry
        let reader = DocumentReader(ctx: ctx, root: map)
        if !source.options.routes.isEmpty, !routesFit(source.options.routes, sink: sink, state: state, map: map) { return nil }
        guard let sourceSpec = spec(source.type), let sinkSpec = spec(sink.type),
            sourceSpec.validate(document, as: .source, reader), sinkSpec.validate(document, as: .sink, reader)
        else { return nil }
        if sink.strategy.mode == .backfill, !sourceSpec.rereadsRanges,
            let r = map["sink"].flatMap({ ctx.mapping($0) })?["strategy"].flatMap({ ctx.mapping($0) })?["mode"]
        {
            ctx.fail(
                r, "a \(source.type.rawValue) source cannot be backfilled: each chunk re-reads a range of rows, and reading a \(source.type.rawValue) source consumes it",
                hint: "load the history with full_refresh or incremental_append, or backfill from the system the topic is fed from")
        }
        if let key = sourceSpec.deleteSendingOption(source), !sinkSpec.appliesDeletes(sink.strategy),
            let r = map["source"].flatMap({ ctx.mapping($0) })?["options"].flatMap({ ctx.mapping($0) })?[key]
        {
            // Found at the first delete otherwise: the run would fail before publishing, state unchanged.
            let modes = sinkSpec.supportedModes.filter { mode in
                var s = StrategyConfig()
                s.mode = mode
                return sinkSpec.appliesDeletes(s)
            }
            let applying = modes.isEmpty
                ? "a \(sink.type.rawValue) sink applies no deletes"
                : "a \(sink.type.rawValue) sink applies deletes with strategy mode " + modes.map { "'\($0.rawValue)'" }.joined(separator: " or ")
            ctx.fail(
                r, "the source sends deletes (\(key)) that a \(sink.type.rawValue) sink cannot apply with strategy mode '\(sink.strategy.mode.rawValue)'",
                hint: "\(applying); or have the source skip them (tombstones: skip)")
            return nil
        }
        if state.atomicity == .targetAtomic, !sinkSpec.holdsTargetAtomicState || state.type.rawValue != sink.type.rawValue,
            let r = map["state"].flatMap({ ctx.mapping($0) })?["atomicity"]
        {
            ctx.fail(
                r, "atomicity 'target_atomic' needs the state store in the sink's own system (a postgres sink with a postgres state store, or bigquery with bigquery), found a \(state.type.rawValue) state store and a \(sink.type.rawValue) sink")
            return nil
        }
        if state.type == .bigquery, state.table?.schema == nil, sink.type.rawValue != "bigquery",
            let r = map["state"]
        {
            ctx.fail(r, "a bigquery state store beside a \(sink.type.rawValue) sink needs table: {schema: DATASET, name: __dpone__state}", hint: "add table: {schema: dpone_state, name: __dpone__state}")
            return nil
        }
        return document
    }

    func spec(_ type: EndpointType) -> (any EndpointSpec)? { specs.first { $0.type == type } }

    /// `retry: {max_elapsed, initial, max}`: positive durations, `initial` no longer than `max`.
    func retry(_ ref: NodeRef) -> RetryConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(["max_elapsed", "initial", "max"], ctx)
        var config = RetryConfig()
        let before = ctx.errors.count
        func duration(_ key: String) -> Double? {
            guard let r = map[key], let text = ctx.string(r) else { return nil }
            guard let seconds = ManifestDuration.seconds(text) else {
                ctx.fail(r, "invalid \(key) '\(text)'", hint: "a positive duration: 500ms, 5s, 10m")
                return nil
            }
            return seconds
        }
        if let v = duration("max_elapsed") { config.maxElapsed = v }
        if let v = duration("initial") { config.initial = v }
        if let v = duration("max") { config.max = v }
        if config.initial > config.max, let r = map["initial"] ?? map["max"] {
            ctx.fail(r, "retry.initial (\(config.initial)s) is longer than retry.max (\(config.max)s)")
        }
        return ctx.errors.count == before ? config : nil
    }

    /// Whether the source mapping lists several tables (`cdc.tables`), read before it is decoded.
    func sourceListsRoutes(_ source: NodeRef?) -> Bool {
        guard case .scalar(let type)? = source?.peek(["type"])?.node, let spec = spec(EndpointType(type.string)) else {
            return false
        }
        return spec.routesKey(source?.peek(["options"])) != nil
    }

    /// Several tables on one slot: each table's sink target must be distinct, and the state cannot
    /// live in one sink's transaction.
    private func routesFit(_ tables: [CDCTableConfig], sink: SinkConfig, state: StateConfig, map: MappingReader) -> Bool {
        let sinkMap = map["sink"].flatMap { ctx.mapping($0) }
        let several = tables.count > 1
        switch spec(sink.type)?.address {
        case .topic:
            let templated = sink.topic?.contains("{table}") ?? false
            if !templated, tables.contains(where: { $0.sinkTopic == nil }), several || sink.topic == nil,
                let r = sinkMap?["topic"] ?? map["sink"]
            {
                ctx.fail(
                    r, sink.topic == nil ? "missing required key 'topic' (a table of cdc.tables has no sink_topic)" : "sink.topic names one topic for \(tables.count) tables",
                    hint: "write the table's name into it (topic: \"cdc.{table}\") or give each entry of cdc.tables a sink_topic")
                return false
            }
        case .table:
            let templated = sink.table.map { $0.name.contains("{table}") } ?? true
            if several, !templated, tables.contains(where: { $0.sinkTable == nil }), let r = sinkMap?["table"] {
                ctx.fail(
                    r, "sink.table names one table for \(tables.count) tables",
                    hint: "write the table's name into it (table: \"replica.{table}\"), drop it (each table keeps its name), or give each entry of cdc.tables a sink_table")
                return false
            }
        default:
            break
        }
        if state.atomicity == .targetAtomic, let r = map["state"].flatMap({ ctx.mapping($0) })?["atomicity"] {
            ctx.fail(
                r, "atomicity 'target_atomic' writes the state in the one sink's transaction; cdc.tables has a sink per table",
                hint: "drop atomicity (the state is written after every table's sink published; their ledgers make a replay harmless)")
            return false
        }
        return true
    }

    private func name(_ ref: NodeRef) -> String? {
        guard let text = ctx.string(ref) else { return nil }
        let valid = !text.isEmpty && text.unicodeScalars.allSatisfy { c in
            c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "." || c == "-")
        }
        guard valid else {
            ctx.fail(ref, "invalid name '\(text)'", hint: "use only letters, digits, '_', '.' and '-'")
            return nil
        }
        return text
    }

    func table(_ ref: NodeRef) -> TableRef? { ctx.table(ref) }
    func positiveInt(_ ref: NodeRef) -> Int? { ctx.positiveInt(ref) }
}
