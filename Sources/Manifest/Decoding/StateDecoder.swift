extension ManifestDecoder {
    static let stateKeys = ["type", "dir", "connection_ref", "connection", "table", "atomicity"]

    /// `state`: `file` (default, `dir` optional), `postgres` (connection required, `table` optional), `disabled`.
    func state(_ ref: NodeRef) -> StateConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        let before = ctx.errors.count
        map.rejectUnknownKeys(Self.stateKeys, ctx)
        var type = StateType.file
        if let r = map["type"] {
            guard let t: StateType = ctx.choice(r, "state type") else { return nil }
            type = t
        }
        var config = StateConfig(type: type, directory: nil)
        if type == .file {
            config.directory = map["dir"].flatMap { ctx.string($0) } ?? StateConfig.defaultDirectory
        } else {
            map.rejectKey("dir", ctx, "'dir' applies only to a file state store")
        }
        if type == .postgres {
            config.connection = connection(
                map, scheme: "postgresql", required: true, owner: "a postgres state store") ?? nil
            config.table = map["table"].flatMap(table)
        } else if type == .bigquery {
            config.connection = connection(map, scheme: "bigquery", required: true, owner: "a bigquery state store") ?? nil
            config.table = map["table"].flatMap(table)
        } else {
            for key in ["connection_ref", "connection", "table"] {
                map.rejectKey(key, ctx, "'\(key)' applies only to a postgres or bigquery state store")
            }
        }
        if let r = map["atomicity"], let a: StateAtomicity = ctx.choice(r, "state atomicity") {
            if a == .targetAtomic && type != .postgres && type != .bigquery {
                ctx.fail(
                    r, "atomicity 'target_atomic' needs a postgres or bigquery state store",
                    hint: "set state.type to the sink's type, with the sink's connection")
            }
            config.atomicity = a
        }
        return ctx.errors.count == before ? config : nil
    }
}
