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

    /// The connector a `type` names for `role`; a miss lists the types that play it and suggests
    /// the nearest.
    func endpointSpec(_ ref: NodeRef, role: EndpointRole) -> (any EndpointSpec)? {
        let valid = specs.filter { $0.roles.contains(role) }.map(\.type.rawValue)
        guard let name = ctx.choice(ref, "\(role.rawValue) type", among: valid, known: specs.map(\.type.rawValue)) else {
            return nil
        }
        return specs.first { $0.type.rawValue == name }
    }

    /// The types playing `role` addressed by `address`, for "applies only to a postgres,
    /// clickhouse or mssql sink".
    private func typeNames(_ address: EndpointAddress, _ role: String) -> String {
        let names = specs.filter { $0.address == address && $0.roles.contains { $0.rawValue == role } }.map(\.type.rawValue)
        guard names.count > 1 else { return names.first ?? "" }
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }

    /// Reads the addressing fields of a source or sink (`role`), requiring those its type needs.
    /// - Parameter tableOptional: the table (and a topic sink's topic) may be absent: a source
    ///   listing several tables, and its sink.
    func endpointFields(_ map: MappingReader, spec: any EndpointSpec, role: String, tableOptional: Bool = false) -> EndpointFields {
        var fields = EndpointFields(complete: true)
        let type = spec.type
        let what = "a \(type.rawValue) \(role)"
        let tableOptional = tableOptional || !spec.addressRequired
        if spec.address == .path {
            fields.path = map.required("path", ctx, because: "\(what) needs one").flatMap { ctx.string($0) }
            if fields.path == nil { fields.complete = false }
        } else {
            map.rejectKey("path", ctx, "'path' applies only to a \(typeNames(.path, role)) \(role)")
        }
        if spec.address == .table, tableOptional {
            if let r = map["table"] {
                fields.table = table(r)
                if fields.table == nil { fields.complete = false }
            }
        } else if spec.address == .table {
            fields.table = map.required("table", ctx, because: "\(what) needs one").flatMap(table)
            if fields.table == nil { fields.complete = false }
        } else {
            map.rejectKey("table", ctx, "'table' applies only to a \(typeNames(.table, role)) \(role)")
        }
        if spec.address == .topic, tableOptional {
            fields.topic = map["topic"].flatMap { ctx.string($0) }
        } else if spec.address == .topic {
            fields.topic = map.required("topic", ctx, because: "\(what) needs one").flatMap { ctx.string($0) }
            if fields.topic == nil { fields.complete = false }
        } else {
            map.rejectKey("topic", ctx, "'topic' applies only to a \(typeNames(.topic, role)) \(role)")
        }
        if let scheme = spec.urlScheme {
            let resolved = connection(map, scheme: scheme, required: true, owner: what, stringKey: spec.connectionStringKey)
            fields.connection = resolved ?? nil
            if fields.connection == nil { fields.complete = false }
        } else {
            map.rejectKey("connection_ref", ctx, "'connection_ref' does not apply to a \(type.rawValue) \(role)")
            map.rejectKey("connection", ctx, "'connection' does not apply to a \(type.rawValue) \(role)")
        }
        return fields
    }
}
