extension ManifestDecoder {
    static let connectionKeys = ["url", "host", "port", "database", "username", "password"]

    /// Reads `connection_ref` or `connection` from `map`.
    ///
    /// Returns `.some(nil)` when neither is given and none is required, nil after an error.
    func connection(_ map: MappingReader, scheme: String, required: Bool, owner: String, stringKey: String? = nil) -> ConnectionConfig?? {
        let ref = map["connection_ref"]
        let inline = map["connection"]
        if let ref, inline != nil {
            ctx.fail(at: ref.ownerMark, ref.path, "set either 'connection_ref' or 'connection', not both")
            return nil
        }
        if let ref {
            guard let id = ctx.string(ref) else { return nil }
            switch ConnectionResolver(environment: ctx.environment).resolve(id, scheme: scheme) {
            case .success(let resolved): return .some(ConnectionConfig(reference: id, resolved: resolved))
            case .failure(let failure):
                ctx.fail(ref, failure.message, hint: failure.hint)
                return nil
            }
        }
        if let inline {
            return inlineConnection(inline, scheme: scheme, stringKey: stringKey).map { .some($0) }
        }
        guard required else { return .some(nil) }
        ctx.fail(at: map.ref.ownerMark, map.ref.path, "missing required key 'connection_ref' (\(owner) needs a connection)",
            hint: "add connection_ref: ID (resolved from DPONE_CONN_<ID>_URL) or connection: {url: ...}")
        return nil
    }

    /// `connection: {url: ...}` or `connection: {host, port, database, username, password}`; or,
    /// when the connector has a connection-string key, `connection: {odbc: "Driver=...;..."}`.
    private func inlineConnection(_ ref: NodeRef, scheme: String, stringKey: String?) -> ConnectionConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        if let stringKey, let textRef = map[stringKey] {
            map.rejectUnknownKeys([stringKey], ctx)
            guard let text = ctx.string(textRef) else { return nil }
            return ConnectionConfig(reference: nil, resolved: ResolvedConnection(url: text))
        }
        map.rejectUnknownKeys(Self.connectionKeys + (stringKey.map { [$0] } ?? []), ctx)
        if let urlRef = map["url"] {
            for key in Self.connectionKeys.dropFirst() {
                map.rejectKey(key, ctx, "'\(key)' cannot be combined with 'url'")
            }
            guard let url = ctx.string(urlRef) else { return nil }
            return ConnectionConfig(reference: nil, resolved: ResolvedConnection(url: url))
        }
        guard let host = map.required("host", ctx, because: "or 'url'").flatMap({ ctx.string($0) }) else {
            return nil
        }
        var port: Int?
        if let portRef = map["port"] {
            guard let p = ctx.int(portRef) else { return nil }
            guard (1...65535).contains(p) else {
                ctx.fail(portRef, "port \(p) is out of range 1...65535")
                return nil
            }
            port = p
        }
        let database = map["database"].flatMap { ctx.string($0) }
        let username = map["username"].flatMap { ctx.string($0) }
        let password = map["password"].flatMap { ctx.string($0) }
        return ConnectionConfig(
            reference: nil,
            resolved: ResolvedConnection(
                scheme: scheme, host: host, port: port, database: database, username: username, password: password))
    }
}
