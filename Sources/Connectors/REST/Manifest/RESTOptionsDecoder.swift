import Flow
import Formats
import Manifest

/// The rest keys of `source.options`.
struct RESTOptionsDecoder {
    static let sourceKeys = [
        "method", "path", "params", "json", "records", "paginator", "headers", "auth", "retry", "on_status", "rate_limit",
        "incremental", "parent", "flatten", "infer_records", "max_page_bytes", "timeout", "max_pages", "max_concurrency",
        "poll_interval",
    ]
    static let resourceKeys = ["method", "path", "params", "json", "records", "paginator"]

    let ctx: DecodingContext

    func options(_ map: MappingReader) -> RESTOptions {
        var o = RESTOptions()
        o.resource = resource(map, requirePath: true)
        if let r = map["headers"] { o.headers = pairs(r, "headers") }
        if let r = map["auth"] { o.auth = auth(r) }
        if let r = map["retry"], let m = ctx.mapping(r) {
            m.rejectUnknownKeys(["max_attempts", "initial", "max", "max_elapsed", "max_retry_wait"], ctx)
            if let v = m["max_attempts"], let n = ctx.positiveInt(v) { o.retry.maxAttempts = n }
            if let v = m["initial"], let s = duration(v) { o.retry.initial = s }
            if let v = m["max"], let s = duration(v) { o.retry.max = s }
            if let v = m["max_elapsed"], let s = duration(v) { o.retry.maxElapsed = s }
            if let v = m["max_retry_wait"], let s = duration(v) { o.retry.maxRetryWait = s }
        }
        if let r = map["on_status"], let m = ctx.mapping(r) {
            for entry in m.entries {
                guard let status = Int(entry.key), (100...599).contains(status) else {
                    ctx.fail(entry.value, "on_status keys are HTTP statuses (404, 409...), found '\(entry.key)'")
                    continue
                }
                if let action: RESTStatusAction = ctx.choice(entry.value, "status action") { o.onStatus[status] = action }
            }
        }
        if let r = map["rate_limit"], let m = ctx.mapping(r) {
            m.rejectUnknownKeys(["requests", "per"], ctx)
            if let v = m.required("requests", ctx), let n = ctx.positiveInt(v) {
                o.rateLimit = (n, m["per"].flatMap { duration($0) } ?? 1)
            }
        }
        if let r = map["incremental"], let m = ctx.mapping(r) {
            m.rejectUnknownKeys(["cursor_path", "param", "initial", "end", "end_param", "lookback"], ctx)
            let path = m.required("cursor_path", ctx).flatMap { ctx.string($0) }
            let param = m.required("param", ctx).flatMap { ctx.string($0) }
            if let path, let param {
                var inc = RESTIncremental(cursorPath: path, param: param)
                inc.initial = m["initial"].flatMap { ctx.literalText($0) }
                inc.end = m["end"].flatMap { ctx.literalText($0) }
                inc.endParam = m["end_param"].flatMap { ctx.string($0) }
                if inc.end != nil, inc.endParam == nil, let e = m["end"] { ctx.fail(e, "end needs end_param (the parameter it is sent in)") }
                inc.lookback = m["lookback"].flatMap { ctx.literalText($0) }
                o.incremental = inc
            }
        }
        if let r = map["parent"], let m = ctx.mapping(r) {
            m.rejectUnknownKeys(Self.resourceKeys + ["fields", "include", "include_prefix"], ctx)
            let parentResource = resource(m, requirePath: true)
            if let f = m.required("fields", ctx) {
                let fields = pairs(f, "parent fields")
                if fields.isEmpty { ctx.fail(f, "parent fields name at least one placeholder: {id: id}") }
                var parent = RESTParent(resource: parentResource, fields: fields)
                if let v = m["include"], let b = ctx.bool(v) { parent.include = b }
                if let v = m["include_prefix"], let s = ctx.string(v) { parent.includePrefix = s }
                for field in fields where !o.resource.path.contains("{\(field.name)}") {
                    ctx.fail(f, "parent field '\(field.name)' is not used in path '\(o.resource.path)'", hint: "write the child path with {\(field.name)}")
                }
                o.parent = parent
            }
        }
        if let r = map["flatten"] {
            if r.isScalar, let on = ctx.bool(r) {
                o.flatten = on ? JSONFlatten() : nil
            } else if let m = ctx.mapping(r) {
                m.rejectUnknownKeys(["separator", "max_depth"], ctx)
                var f = JSONFlatten()
                if let v = m["separator"], let s = ctx.string(v) {
                    if s.isEmpty { ctx.fail(v, "the flatten separator cannot be empty") } else { f.separator = s }
                }
                if let v = m["max_depth"], let n = ctx.positiveInt(v) { f.maxDepth = n }
                o.flatten = f
            }
        }
        if let r = map["infer_records"], let n = ctx.positiveInt(r) { o.inferRecords = n }
        if let r = map["max_page_bytes"], let n = ctx.positiveInt(r) { o.maxPageBytes = n }
        if let r = map["timeout"], let s = duration(r) { o.timeoutSeconds = s }
        if let r = map["max_pages"], let n = ctx.positiveInt(r) { o.maxPages = n }
        if let r = map["max_concurrency"], let n = ctx.positiveInt(r) { o.maxConcurrency = min(n, 64) }
        if let r = map["poll_interval"], let s = duration(r) {
            o.pollInterval = s
            if o.incremental == nil {
                ctx.fail(r, "poll_interval needs incremental: {cursor_path: ..., param: ...}", hint: "polling re-reads only the records past the stored cursor")
            }
        }
        return o
    }

    private func resource(_ map: MappingReader, requirePath: Bool) -> RESTResource {
        var r = RESTResource()
        if let v = map["method"], let m: RESTResource.HTTPMethodName = ctx.choice(v, "method") { r.method = m }
        if let v = requirePath ? map.required("path", ctx) : map["path"], let p = ctx.string(v) { r.path = p }
        if let v = map["params"] { r.params = pairs(v, "params") }
        if let v = map["json"], let value = ctx.value(v) {
            r.json = Self.jsonText(value)
            if r.method != .post { ctx.fail(v, "a json body needs method: POST") }
        }
        if let v = map["records"], let p = ctx.string(v) {
            if JSONPath(p) == nil { ctx.fail(v, "invalid records path '\(p)'", hint: "a path like data.items, $.results or pages[0].rows") }
            r.records = p
        }
        if let v = map["paginator"] { r.paginator = paginator(v, method: r.method) }
        return r
    }

    private func paginator(_ ref: NodeRef, method: RESTResource.HTTPMethodName) -> RESTPaginator {
        if ref.isScalar, let name = ctx.literalText(ref) {
            switch name {
            case "none": return .none
            case "link_header": return .linkHeader
            default:
                ctx.fail(ref, "paginator '\(name)' needs settings: write paginator: {type: \(name), ...}")
                return .none
            }
        }
        guard let m = ctx.mapping(ref) else { return .none }
        guard let t = m.required("type", ctx), let type = ctx.choice(t, "paginator type", among: RESTPaginator.typeNames) else {
            return .none
        }
        func path(_ key: String) -> String? {
            guard let v = m[key], let p = ctx.string(v) else { return nil }
            if JSONPath(p) == nil { ctx.fail(v, "invalid \(key) '\(p)'") }
            return p
        }
        switch type {
        case "page_number":
            m.rejectUnknownKeys(["type", "param", "start", "total_pages_path"], ctx)
            return .pageNumber(
                param: m["param"].flatMap { ctx.string($0) } ?? "page", start: m["start"].flatMap { ctx.int($0) } ?? 1,
                totalPagesPath: path("total_pages_path"))
        case "offset":
            m.rejectUnknownKeys(["type", "offset_param", "limit_param", "limit", "total_path"], ctx)
            return .offset(
                offsetParam: m["offset_param"].flatMap { ctx.string($0) } ?? "offset",
                limitParam: m["limit_param"].flatMap { ctx.string($0) } ?? "limit",
                limit: m.required("limit", ctx).flatMap { ctx.positiveInt($0) } ?? 100, totalPath: path("total_path"))
        case "cursor":
            m.rejectUnknownKeys(["type", "cursor_path", "cursor_header", "param", "in"], ctx)
            let cursorPath = path("cursor_path")
            let header = m["cursor_header"].flatMap { ctx.string($0) }?.lowercased()
            if (cursorPath == nil) == (header == nil) {
                ctx.fail(ref, "a cursor paginator reads its token from cursor_path (the body) or cursor_header: give one")
            }
            var inBody = false
            if let v = m["in"], let place = ctx.choice(v, "cursor placement", among: ["query", "body"]) {
                inBody = place == "body"
                if inBody && method != .post { ctx.fail(v, "a cursor sent in the body needs method: POST") }
            }
            return .cursor(
                cursorPath: cursorPath, cursorHeader: header, param: m["param"].flatMap { ctx.string($0) } ?? "cursor", inBody: inBody)
        case "next_url":
            m.rejectUnknownKeys(["type", "path"], ctx)
            guard let v = m.required("path", ctx), let p = ctx.string(v) else { return .none }
            if JSONPath(p) == nil { ctx.fail(v, "invalid path '\(p)'") }
            return .nextURL(path: p)
        case "link_header":
            m.rejectUnknownKeys(["type"], ctx)
            return .linkHeader
        default:
            m.rejectUnknownKeys(["type"], ctx)
            return .none
        }
    }

    private func auth(_ ref: NodeRef) -> RESTAuth {
        guard let m = ctx.mapping(ref) else { return .none }
        guard let t = m.required("type", ctx), let type = ctx.choice(t, "auth type", among: RESTAuth.typeNames) else { return .none }
        func text(_ key: String) -> String? { m.required(key, ctx).flatMap { ctx.literalText($0) } }
        switch type {
        case "bearer":
            m.rejectUnknownKeys(["type", "token"], ctx)
            return text("token").map { .bearer(token: $0) } ?? .none
        case "basic":
            m.rejectUnknownKeys(["type", "username", "password"], ctx)
            guard let u = text("username"), let p = text("password") else { return .none }
            return .basic(username: u, password: p)
        case "api_key":
            m.rejectUnknownKeys(["type", "name", "value", "in"], ctx)
            var inQuery = false
            if let v = m["in"], let place = ctx.choice(v, "api key placement", among: ["header", "query"]) { inQuery = place == "query" }
            guard let n = text("name"), let v = text("value") else { return .none }
            return .apiKey(name: n, value: v, inQuery: inQuery)
        case "oauth2_client_credentials":
            m.rejectUnknownKeys(["type", "token_url", "client_id", "client_secret", "scope"], ctx)
            guard let url = text("token_url"), let id = text("client_id"), let secret = text("client_secret") else { return .none }
            return .oauth2(tokenURL: url, clientID: id, clientSecret: secret, scope: m["scope"].flatMap { ctx.string($0) })
        default:
            m.rejectUnknownKeys(["type"], ctx)
            return .none
        }
    }

    private func pairs(_ ref: NodeRef, _ what: String) -> [RESTPair] {
        guard let m = ctx.mapping(ref) else { return [] }
        var out: [RESTPair] = []
        for entry in m.entries {
            guard let v = ctx.value(entry.value) else { continue }
            switch v {
            case .string(let s): out.append(RESTPair(entry.key, s))
            case .int(let i): out.append(RESTPair(entry.key, String(i)))
            case .bool(let b): out.append(RESTPair(entry.key, String(b)))
            case .double(let d): out.append(RESTPair(entry.key, String(d)))
            default: ctx.fail(entry.value, "\(what) values are strings, numbers or booleans")
            }
        }
        return out
    }

    private func duration(_ ref: NodeRef) -> Double? {
        guard let text = ctx.literalText(ref) else { return nil }
        guard let seconds = ManifestDuration.seconds(text) else {
            ctx.fail(ref, "invalid duration '\(text)'", hint: "a positive duration: 5s, 500ms, 1m")
            return nil
        }
        return seconds
    }

    /// A manifest value as JSON text (a POST body).
    static func jsonText(_ value: ManifestValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return quote(s)
        case .list(let items): return "[" + items.map(jsonText).joined(separator: ",") + "]"
        case .mapping(let entries): return "{" + entries.map { quote($0.key) + ":" + jsonText($0.value) }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String { JSONText.quoted(s) }
}
