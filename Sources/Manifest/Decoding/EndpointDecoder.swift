import Yams

/// Checks shared by sources and sinks: `path`, `table`, `topic` and the connection fit the type.
struct EndpointFields {
    var path: String?
    var table: TableRef?
    var topic: String?
    var connection: ConnectionConfig?
    /// False when a field the type needs was missing or invalid.
    var complete: Bool
}

extension ManifestDecoder {
    static let endpointKeys = ["type", "path", "connection_ref", "connection", "table", "topic"]

    /// Reads the addressing fields of a source or sink (`role`), requiring those `type` needs.
    /// - Parameter tableOptional: the table (and a kafka sink's topic) may be absent: a cdc source
    ///   listing `cdc.tables`, and its sink.
    func endpointFields(_ map: MappingReader, type: EndpointType, role: String, tableOptional: Bool = false) -> EndpointFields {
        var fields = EndpointFields(complete: true)
        let what = "a \(type.rawValue) \(role)"
        if type == .files {
            fields.path = map.required("path", ctx, because: "\(what) needs one").flatMap { ctx.string($0) }
            if fields.path == nil { fields.complete = false }
        } else {
            map.rejectKey("path", ctx, "'path' applies only to a files \(role)")
        }
        if type.isDatabase, tableOptional {
            if let r = map["table"] {
                fields.table = table(r)
                if fields.table == nil { fields.complete = false }
            }
        } else if type.isDatabase {
            fields.table = map.required("table", ctx, because: "\(what) needs one").flatMap(table)
            if fields.table == nil { fields.complete = false }
        } else {
            map.rejectKey("table", ctx, "'table' applies only to a postgres, clickhouse or mssql \(role)")
        }
        if type == .kafka, tableOptional {
            fields.topic = map["topic"].flatMap { ctx.string($0) }
        } else if type == .kafka {
            fields.topic = map.required("topic", ctx, because: "\(what) needs one").flatMap { ctx.string($0) }
            if fields.topic == nil { fields.complete = false }
        } else {
            map.rejectKey("topic", ctx, "'topic' applies only to a kafka \(role)")
        }
        if type.needsConnection {
            let resolved = connection(map, scheme: type.urlScheme, required: true, owner: what)
            fields.connection = resolved ?? nil
            if fields.connection == nil { fields.complete = false }
        } else {
            map.rejectKey("connection_ref", ctx, "'connection_ref' does not apply to a files \(role)")
            map.rejectKey("connection", ctx, "'connection' does not apply to a files \(role)")
        }
        return fields
    }
}

extension ManifestDecoder {
    /// The node at `path` below `ref` through mappings, without reporting anything (nil when absent).
    static func peek(_ ref: NodeRef?, _ path: [String]) -> Yams.Node? {
        guard var node = ref?.node else { return nil }
        for key in path {
            guard case .mapping(let map) = node, let next = map.first(where: { $0.key.string == key })?.value else { return nil }
            node = next
        }
        return node
    }

    /// Whether a source mapping lists `options.cdc.tables` (several tables on one slot).
    static func listsCDCTables(_ source: NodeRef?) -> Bool {
        peek(source, ["options", "cdc", "tables"]) != nil
    }
}
