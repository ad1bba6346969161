extension ManifestDecoder {
    static let sinkKeys = endpointKeys + ["strategy", "options"]

    /// - Parameter severalTables: the source lists several tables (`cdc.tables`): a table sink's
    ///   `table` is optional (a template with `{table}`, or each entry's `sink_table`).
    func sink(_ ref: NodeRef, severalTables: Bool = false) -> SinkConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(Self.sinkKeys, ctx)
        guard let spec = map.required("type", ctx).flatMap({ endpointSpec($0, role: .sink) }) else { return nil }
        let fields = endpointFields(map, spec: spec, role: "sink", tableOptional: severalTables)
        let strategy = map["strategy"].map { self.strategy($0, sink: spec) } ?? StrategyConfig()
        var config = SinkConfig(
            type: spec.type, path: fields.path, connection: fields.connection, table: fields.table, topic: fields.topic,
            strategy: strategy ?? StrategyConfig())
        let optionsValid = sinkOptions(map["options"], spec: spec, owner: map, into: &config)
        return fields.complete && strategy != nil && optionsValid ? config : nil
    }

    /// `sink.options`: the shared keys here, the connector's own by its spec.
    private func sinkOptions(_ ref: NodeRef?, spec: any EndpointSpec, owner: MappingReader, into config: inout SinkConfig) -> Bool {
        var map: MappingReader?
        if let ref {
            guard let m = ctx.mapping(ref) else { return false }
            map = m
        }
        let before = ctx.errors.count
        if let map {
            if let keys = spec.sinkOptionKeys {
                map.rejectUnknownKeys(SinkOptions.sharedKeys + keys, ctx)
            } else {
                for entry in map.entries where !SinkOptions.sharedKeys.contains(entry.key) {
                    if let v = ctx.value(entry.value) { config.options.extra[entry.key] = v }
                }
            }
            if let r = map["lineage"], let b = ctx.bool(r) { config.options.lineage = b }
            if let r = map["row_hash"], let b = ctx.bool(r) { config.options.rowHash = b }
            // How a table follows the source's shape: every table sink reads it the same way.
            if let r = map["schema_evolution"], spec.address == .table, let evolution = ctx.mapping(r) {
                evolution.rejectUnknownKeys(["widen", "drop"], ctx)
                if let r = evolution["widen"], let policy: WidenPolicy = ctx.choice(r, "widen policy") { config.options.widen = policy == .auto }
                if let r = evolution["drop"], let policy: DropPolicy = ctx.choice(r, "drop policy") { config.options.keepDropped = policy == .keep }
            }
        }
        spec.decodeSinkOptions(OptionsReader(ctx: ctx, map: map, endpoint: owner), into: &config)
        return ctx.errors.count == before
    }
}
