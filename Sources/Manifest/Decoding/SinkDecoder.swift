extension ManifestDecoder {
    static let sinkKeys = endpointKeys + ["strategy", "options"]
    static let commonSinkOptionKeys = ["lineage", "row_hash"]

    /// - Parameter severalTables: the source lists `cdc.tables`: a table sink's `table` is optional
    ///   (a template with `{table}`, or each entry's `sink_table`).
    func sink(_ ref: NodeRef, severalTables: Bool = false) -> SinkConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(Self.sinkKeys, ctx)
        guard
            let type: EndpointType = map.required("type", ctx).flatMap({
                ctx.choice($0, "sink type", allowed: EndpointType.sinkTypes)
            })
        else { return nil }
        let fields = endpointFields(map, type: type, role: "sink", tableOptional: severalTables)
        let strategy = map["strategy"].map { self.strategy($0, sink: type) } ?? StrategyConfig()
        // An appending files sink writes part files into a directory, whose name has no extension to
        // infer a format from: csv unless options.format says otherwise.
        let directoryFormat: FileFormat? = strategy?.mode == .incrementalAppend ? .csv : nil
        let options = sinkOptions(
            map["options"], type: type, path: fields.path, pathRef: map["path"] ?? map.ref,
            defaultFormat: directoryFormat)
        guard fields.complete, let strategy, let options else { return nil }
        return SinkConfig(
            type: type, path: fields.path, connection: fields.connection, table: fields.table, topic: fields.topic,
            strategy: strategy, options: options)
    }

    /// `sink.options`: strict for every built sink type; others keep unmodelled keys in `extra`.
    private func sinkOptions(
        _ ref: NodeRef?, type: EndpointType, path: String?, pathRef: NodeRef, defaultFormat: FileFormat?
    ) -> SinkOptions? {
        var options = SinkOptions()
        var map: MappingReader?
        if let ref {
            guard let m = ctx.mapping(ref) else { return nil }
            map = m
        }
        let before = ctx.errors.count
        if let map {
            switch type {
            case .files: map.rejectUnknownKeys(Self.commonSinkOptionKeys + Self.fileOptionKeys, ctx)
            case .postgres, .clickhouse: map.rejectUnknownKeys(Self.commonSinkOptionKeys + ["schema_evolution"], ctx)
            case .kafka:
                map.rejectUnknownKeys(Self.commonSinkOptionKeys + Self.kafkaSinkOptionKeys, ctx)
                options.kafka = kafkaOptions(map, role: "sink")
            default: break
            }
            if let r = map["lineage"], let b = ctx.bool(r) { options.lineage = b }
            if let r = map["row_hash"], let b = ctx.bool(r) { options.rowHash = b }
            if let r = map["schema_evolution"], type.isDatabase, let evolution = ctx.mapping(r) {
                evolution.rejectUnknownKeys(["widen", "drop"], ctx)
                if let r = evolution["widen"], let policy: WidenPolicy = ctx.choice(r, "widen policy") { options.widen = policy == .auto }
                if let r = evolution["drop"], let policy: DropPolicy = ctx.choice(r, "drop policy") { options.keepDropped = policy == .keep }
            }
            if type == .mssql || type == .rest {
                for entry in map.entries where !Self.commonSinkOptionKeys.contains(entry.key) {
                    if let v = ctx.value(entry.value) { options.extra[entry.key] = v }
                }
            }
        }
        if type == .files, let path { options.file = fileOptions(map, path: path, pathRef: pathRef, defaultFormat: defaultFormat) }
        return ctx.errors.count == before ? options : nil
    }
}
