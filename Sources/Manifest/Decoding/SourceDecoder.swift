extension ManifestDecoder {
    static let sourceKeys = endpointKeys + ["options"]
    static let commonSourceOptionKeys = ["incremental_column", "batch_rows", "schema", "columns", "custom_predicate"]
    static let postgresSourceOptionKeys = ["incremental_strategy", "lookback", "unbounded_numeric", "cdc", "poll_interval"]
    static let cdcKeys = ["slot", "publication", "create", "tables", "snapshot_parallelism", "snapshot_range_mb", "on_truncate"]
    static let cdcTableKeys = ["table", "sink_table", "sink_topic", "unique_key"]

    func source(_ ref: NodeRef) -> SourceConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(Self.sourceKeys, ctx)
        guard let type: EndpointType = map.required("type", ctx).flatMap({ ctx.choice($0, "source type") }) else {
            return nil
        }
        let severalTables = type == .postgres && Self.listsCDCTables(ref)
        let fields = endpointFields(map, type: type, role: "source", tableOptional: severalTables)
        if severalTables, let r = map["table"] {
            ctx.fail(r, "source.table cannot be used with cdc.tables", hint: "list every replicated table under source.options.cdc.tables")
        }
        let options = sourceOptions(map["options"], type: type, path: fields.path, pathRef: map["path"], owner: map)
        guard fields.complete, let options else { return nil }
        return SourceConfig(
            type: type, path: fields.path, connection: fields.connection, table: fields.table, topic: fields.topic,
            options: options)
    }

    /// `source.options`: strict for files; other types keep unmodelled keys in `extra`.
    private func sourceOptions(
        _ ref: NodeRef?, type: EndpointType, path: String?, pathRef: NodeRef?, owner: MappingReader
    ) -> SourceOptions? {
        var options = SourceOptions()
        var map: MappingReader?
        if let ref {
            guard let m = ctx.mapping(ref) else { return nil }
            map = m
        }
        let before = ctx.errors.count
        if let map {
            if type == .files {
                map.rejectUnknownKeys(Self.commonSourceOptionKeys + Self.fileOptionKeys, ctx)
            } else if type == .postgres {
                map.rejectUnknownKeys(Self.commonSourceOptionKeys + Self.postgresSourceOptionKeys, ctx)
            } else if type == .clickhouse {
                map.rejectUnknownKeys(Self.commonSourceOptionKeys + ["final"], ctx)
            } else if type == .kafka {
                map.rejectUnknownKeys(Self.commonSourceOptionKeys + Self.kafkaSourceOptionKeys, ctx)
                options.kafka = kafkaOptions(map, role: "source")
            }
            options.incrementalColumn = map["incremental_column"].flatMap { ctx.string($0) }
            if let r = map["batch_rows"] { options.batchRows = positiveInt(r) }
            if let r = map["schema"] { options.schema = schema(r) }
            if let r = map["columns"] { options.columns = ctx.stringList(r) }
            options.customPredicate = map["custom_predicate"].flatMap { ctx.string($0) }
            if let r = map["incremental_strategy"], let strategy: IncrementalStrategy = ctx.choice(r, "incremental strategy") {
                options.incrementalStrategy = strategy
                if strategy == .xmin && type != .postgres {
                    ctx.fail(r, "incremental_strategy 'xmin' needs a postgres source")
                }
                if strategy == .xmin, let c = map["incremental_column"] {
                    ctx.fail(c, "incremental_column conflicts with incremental_strategy 'xmin'", hint: "use one of them")
                }
                if strategy == .column && options.incrementalColumn == nil {
                    ctx.fail(r, "incremental_strategy 'column' needs incremental_column")
                }
            }
            if let r = map["lookback"] {
                options.lookback = ctx.string(r)
                if options.incrementalColumn == nil { ctx.fail(r, "lookback needs incremental_column") }
            }
            if let r = map["unbounded_numeric"], let policy: UnboundedNumericPolicy = ctx.choice(r, "unbounded numeric policy") {
                options.unboundedNumeric = policy
            }
            if let r = map["poll_interval"], type == .postgres, let text = ctx.string(r) {
                if let seconds = ManifestDuration.seconds(text) {
                    options.pollInterval = seconds
                } else {
                    ctx.fail(r, "invalid poll_interval '\(text)'", hint: "a positive duration: 5s, 500ms, 1m")
                }
                if options.incrementalStrategy != .xmin && options.incrementalColumn == nil {
                    ctx.fail(r, "poll_interval needs an incremental read", hint: "set incremental_strategy: xmin or incremental_column")
                }
            }
            if let r = map["cdc"], type == .postgres {
                options.cdc = cdcOptions(r)
                for conflicting in ["incremental_column", "incremental_strategy", "lookback", "custom_predicate", "columns", "poll_interval"]
                where map.has(conflicting) {
                    ctx.fail(map[conflicting]!, "\(conflicting) cannot be used with cdc", hint: "cdc streams every change of the whole table")
                }
            }
            if type != .files && type != .postgres && type != .kafka {
                for entry in map.entries where !Self.commonSourceOptionKeys.contains(entry.key) {
                    if let v = ctx.value(entry.value) { options.extra[entry.key] = v }
                }
            }
        }
        if type == .files, let path {
            options.file = fileOptions(map, path: path, pathRef: pathRef ?? owner.ref)
        }
        return ctx.errors.count == before ? options : nil
    }

    /// `cdc: {slot, publication, create}`, strictly.
    func cdcOptions(_ ref: NodeRef) -> PostgresCDCOptions? {
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(Self.cdcKeys, ctx)
        let slotRef = map.required("slot", ctx)
        let publicationRef = map.required("publication", ctx)
        let slot = slotRef.flatMap { ctx.string($0) }
        let publication = publicationRef.flatMap { ctx.string($0) }
        var create = true
        if let r = map["create"], let b = ctx.bool(r) { create = b }
        var onTruncate = TruncatePolicy.fail
        if let r = map["on_truncate"], let policy: TruncatePolicy = ctx.choice(r, "on_truncate policy") { onTruncate = policy }
        if let slot, let slotRef, !PostgresCDCOptions.isValidSlotName(slot) {
            ctx.fail(slotRef, "invalid replication slot name '\(slot)'", hint: "use 1 to 63 lowercase letters, digits and underscores")
            return nil
        }
        if let publication, let publicationRef, publication.isEmpty || publication.utf8.count > 63 {
            ctx.fail(publicationRef, "invalid publication name '\(publication)'", hint: "use 1 to 63 characters")
            return nil
        }
        var tables: [CDCTableConfig] = []
        if let r = map["tables"], let list = ctx.list(r) {
            if list.isEmpty { ctx.fail(r, "cdc.tables is empty", hint: "list the tables to replicate, or drop the key and set source.table") }
            var seen: Set<String> = []
            for item in list {
                guard let entry = cdcTable(item) else { continue }
                let name = "\(entry.table.schema ?? "public").\(entry.table.name)"
                if !seen.insert(name).inserted { ctx.fail(item, "table \(name) is listed twice in cdc.tables") }
                tables.append(entry)
            }
        }
        var parallelism: Int?
        if let r = map["snapshot_parallelism"] { parallelism = positiveInt(r) }
        var rangeMB: Int?
        if let r = map["snapshot_range_mb"] { rangeMB = positiveInt(r) }
        guard let slot, let publication else { return nil }
        var options = PostgresCDCOptions(
            slot: slot, publication: publication, create: create, tables: tables, snapshotParallelism: parallelism)
        options.snapshotRangeMB = rangeMB
        options.onTruncate = onTruncate
        return options
    }

    /// One entry of `cdc.tables`: `schema.table` or `{table, sink_table, sink_topic, unique_key}`.
    func cdcTable(_ ref: NodeRef) -> CDCTableConfig? {
        if case .scalar = ref.node {
            return table(ref).map { CDCTableConfig(table: $0) }
        }
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(Self.cdcTableKeys, ctx)
        guard let table = map.required("table", ctx).flatMap({ self.table($0) }) else { return nil }
        var entry = CDCTableConfig(table: table)
        if let r = map["sink_table"] { entry.sinkTable = self.table(r) }
        if let r = map["sink_topic"] { entry.sinkTopic = ctx.string(r) }
        if let r = map["unique_key"] {
            entry.uniqueKey = ctx.stringOrList(r)
            if entry.uniqueKey?.isEmpty == true { ctx.fail(r, "unique_key is empty") }
        }
        return entry
    }

    /// A strictly positive integer.
    func positiveInt(_ ref: NodeRef) -> Int? {
        guard let n = ctx.int(ref) else { return nil }
        guard n > 0 else {
            ctx.fail(ref, "expected a positive integer, found \(n)")
            return nil
        }
        return n
    }
}

/// Durations as manifests and the command line write them.
public enum ManifestDuration {
    /// A positive duration `5s`, `500ms`, `2m`, `1h` or plain seconds, in seconds (nil when invalid).
    public static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let v = Double(text.dropLast(suffix.count)), v > 0 else { return nil }
            return v * scale
        }
        guard let v = Double(text), v > 0 else { return nil }
        return v
    }
}
