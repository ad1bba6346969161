import Flow
import Manifest
import ConnectorKit

/// `source.options.cdc.tables`: several tables on one replication slot, each applied by its own sink.
/// Each table is a route of the graph (own channel, transforms and sink); the state and the slot
/// advance only after every table's sink published the checkpoint.
enum CDCRoutes {
    /// `{table}` and `{schema}` replaced by the source table's name and schema.
    static func expand(_ text: String, _ table: TableRef) -> String {
        text.replacingOccurrences(of: "{table}", with: table.name)
            .replacingOccurrences(of: "{schema}", with: table.schema ?? "public")
    }

    /// The sink section for one table: its target (the entry's, the template's, or the source
    /// table's name) and the key its changes are applied by (the entry's, the strategy's, or the
    /// table's replica identity / primary key).
    static func sinkConfig(for entry: CDCTableConfig, sink: SinkConfig, identity: [String]?) throws -> SinkConfig {
        var config = sink
        let source = "\(entry.table.schema ?? "public").\(entry.table.name)"
        // A sink addressed by topic takes the entry's topic; one addressed by table its table.
        if sink.topic != nil || (sink.table == nil && entry.sinkTopic != nil) {
            config.topic = entry.sinkTopic ?? sink.topic.map { expand($0, entry.table) }
        } else {
            if let table = entry.sinkTable {
                config.table = table
            } else if let template = sink.table {
                config.table = TableRef(schema: template.schema.map { expand($0, entry.table) }, name: expand(template.name, entry.table))
            } else {
                config.table = TableRef(name: entry.table.name)
            }
        }
        let key = entry.uniqueKey ?? (sink.strategy.uniqueKey.isEmpty ? identity : sink.strategy.uniqueKey)
        guard let key, !key.isEmpty else {
            throw DponeError(
                .manifest, "table \(source) has no primary key or replica identity index to apply its changes by",
                hint: "give its entry of source.options.cdc.tables a unique_key: {table: \(source), unique_key: [id]}",
                context: ["table": source])
        }
        config.strategy.uniqueKey = key
        return config
    }

    /// The sink of a single-table CDC source: a `cdc_apply` strategy without `unique_key` takes the
    /// table's replica identity or primary key, as each entry of `cdc.tables` does; a table with
    /// neither is refused naming the fix.
    static func sinkWithIdentityKey(_ document: ManifestDocument, source: any KeyedRoutesSource) async throws -> SinkConfig {
        var sink = document.sink
        guard sink.strategy.mode == .cdcApply, sink.strategy.uniqueKey.isEmpty else { return sink }
        let table = document.source.table.map { "\($0.schema ?? "public").\($0.name)" } ?? "the source table"
        guard let key = try await source.identityKeys().first ?? nil, !key.isEmpty else {
            throw DponeError(
                .manifest, "table \(table) has no primary key or replica identity index to apply its changes by",
                hint: "set sink.strategy.unique_key: [id]", context: ["table": table])
        }
        sink.strategy.uniqueKey = key
        return sink
    }

    /// One route per table of `cdc.tables`, in their order (the source's route order).
    static func routes(
        _ document: ManifestDocument, source: any KeyedRoutesSource, loadID: String, loadedAt: Int64
    ) async throws -> [PipelineGraph.Route] {
        let tables = document.source.options.routes
        let identities = try await source.identityKeys()
        var routes: [PipelineGraph.Route] = []
        var targets: [String: String] = [:]
        for (i, entry) in tables.enumerated() {
            var perTable = document
            perTable.source.table = entry.table
            perTable.source.options.routes = []
            perTable.sink = try sinkConfig(for: entry, sink: document.sink, identity: identities[i])
            let sink = try ConnectorFactory.sink(
                SinkRequest(config: perTable.sink, pipeline: document.name, loadID: loadID, state: document.state, changeData: true))
            let name = "\(entry.table.schema ?? "public").\(entry.table.name)"
            if let other = targets[sink.name] {
                throw DponeError(
                    .manifest, "tables \(other) and \(name) of cdc.tables both go to \(sink.name)",
                    hint: "give each table its own target (a {table} template, or sink_table / sink_topic per entry)")
            }
            targets[sink.name] = name
            routes.append(
                PipelineGraph.Route(
                    name: name, transforms: try ConnectorFactory.transforms(perTable, loadID: loadID, loadedAt: loadedAt),
                    sinks: [sink]))
        }
        return routes
    }
}
