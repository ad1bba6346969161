extension ManifestDecoder {
    static let strategyKeys = ["mode", "unique_key", "only_new_rows", "overwrite_type", "custom_predicate"]

    /// `sink.strategy`, checked against the sink type's capabilities and the mode's key requirement.
    func strategy(_ ref: NodeRef, sink: EndpointType) -> StrategyConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        let before = ctx.errors.count
        map.rejectUnknownKeys(Self.strategyKeys, ctx)
        var config = StrategyConfig()
        if let modeRef = map.required("mode", ctx), let mode: LoadMode = ctx.choice(modeRef, "strategy mode") {
            config.mode = mode
            let supported = StrategyCapabilities.supportedModes(for: sink)
            if !supported.contains(mode) {
                ctx.fail(
                    modeRef,
                    "strategy mode '\(mode.rawValue)' is not supported by a \(sink.rawValue) sink; supported: "
                        + supported.map(\.rawValue).joined(separator: ", "))
            }
        }
        if let r = map["unique_key"], let keys = ctx.stringOrList(r) {
            if keys.isEmpty { ctx.fail(r, "'unique_key' must name at least one column") }
            config.uniqueKey = keys
        }
        if config.mode.requiresUniqueKey, !map.has("unique_key") {
            ctx.fail(
                at: ref.ownerMark, ref.path,
                "missing required key 'unique_key' (strategy mode '\(config.mode.rawValue)' matches rows by key)",
                hint: "add unique_key: [id] (a column or a list of columns)")
        }
        if let r = map["only_new_rows"], let b = ctx.bool(r) { config.onlyNewRows = b }
        if let r = map["overwrite_type"], let o: OverwriteType = ctx.choice(r, "overwrite type") {
            config.overwriteType = o
        }
        config.customPredicate = map["custom_predicate"].flatMap { ctx.string($0) }
        return ctx.errors.count == before ? config : nil
    }
}
