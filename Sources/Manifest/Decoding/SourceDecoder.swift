extension ManifestDecoder {
    static let sourceKeys = endpointKeys + ["options"]

    func source(_ ref: NodeRef) -> SourceConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(Self.sourceKeys, ctx)
        guard let spec = map.required("type", ctx).flatMap({ endpointSpec($0, role: .source) }) else { return nil }
        let routesKey = spec.routesKey(map["options"])
        let fields = endpointFields(map, spec: spec, role: "source", tableOptional: routesKey != nil)
        if let routesKey, let r = map["table"] {
            ctx.fail(r, "source.table cannot be used with \(routesKey)", hint: "list every replicated table under source.options.\(routesKey)")
        }
        var config = SourceConfig(type: spec.type, path: fields.path, connection: fields.connection, table: fields.table, topic: fields.topic)
        let optionsValid = sourceOptions(map["options"], spec: spec, owner: map, into: &config)
        return fields.complete && optionsValid ? config : nil
    }

    /// `source.options`: the shared keys here, the connector's own by its spec (strictly, unless
    /// the spec keeps them untyped in `extra`).
    private func sourceOptions(_ ref: NodeRef?, spec: any EndpointSpec, owner: MappingReader, into config: inout SourceConfig) -> Bool {
        var map: MappingReader?
        if let ref {
            guard let m = ctx.mapping(ref) else { return false }
            map = m
        }
        let before = ctx.errors.count
        if let map {
            if let keys = spec.sourceOptionKeys {
                map.rejectUnknownKeys(SourceOptions.sharedKeys + keys, ctx)
            } else {
                for entry in map.entries where !SourceOptions.sharedKeys.contains(entry.key) {
                    if let v = ctx.value(entry.value) { config.options.extra[entry.key] = v }
                }
            }
            config.options.incrementalColumn = map["incremental_column"].flatMap { ctx.string($0) }
            if let r = map["batch_rows"] { config.options.batchRows = positiveInt(r) }
            if let r = map["schema"] { config.options.schema = schema(r) }
            if let r = map["columns"] { config.options.columns = ctx.stringList(r) }
            config.options.customPredicate = map["custom_predicate"].flatMap { ctx.string($0) }
            if let r = map["lookback"], spec.sourceOptionKeys?.contains("lookback") == true {
                config.options.lookback = ctx.string(r)
                if config.options.incrementalColumn == nil { ctx.fail(r, "lookback needs incremental_column") }
            }
        }
        spec.decodeSourceOptions(OptionsReader(ctx: ctx, map: map, endpoint: owner), into: &config)
        return ctx.errors.count == before
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
