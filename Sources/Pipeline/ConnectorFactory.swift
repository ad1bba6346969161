import ConnectorKit
import Flow
import Manifest
import Operators

/// Turns manifest sections into operators: the connector of each `type` comes from
/// `ConnectorRegistry`; a type this build has no connector for fails here, before any data moves.
enum ConnectorFactory {
    static func source(
        _ config: SourceConfig, pipeline: String, continuous: ContinuousMode? = nil, keyColumns: [String] = []
    ) throws -> any SourceOperator {
        try ConnectorRegistry.descriptor(for: config.type, role: "source")
            .makeSource(SourceRequest(config: config, pipeline: pipeline, continuous: continuous, keyColumns: keyColumns))
    }

    static func sink(_ request: SinkRequest) throws -> any SinkOperator {
        try ConnectorRegistry.descriptor(for: request.config.type, role: "sink").makeSink(request)
    }

    /// The transform chain: source column allowlist and predicate, the manifest's transforms, then
    /// the sink's lineage and row-hash columns.
    static func transforms(_ document: ManifestDocument, loadID: String, loadedAt: Int64) throws -> [any BatchTransform] {
        var chain: [any BatchTransform] = []
        // A source without a query language (files) leaves its allowlist and predicate to
        // transforms; a database pushes them into its query.
        if try !ConnectorRegistry.descriptor(for: document.source.type, role: "source").sourceAppliesProjection {
            if let columns = document.source.options.columns { chain.append(Project(keeping: columns)) }
            if let predicate = document.source.options.customPredicate { chain.append(try Filter(parsing: predicate)) }
        }
        for t in document.transforms {
            switch t {
            case .rename(let pairs):
                chain.append(Renaming(pairs: pairs.map { ($0.from, $0.to) }))
            case .select(let columns):
                chain.append(Project(keeping: columns))
            case .cast(let casts, let allowLossy):
                chain.append(
                    Cast(columns: Dictionary(casts.map { ($0.column, $0.type) }, uniquingKeysWith: { $1 }),
                         allowLossy: allowLossy))
            case .filter(let predicate):
                chain.append(try Filter(parsing: predicate))
            }
        }
        // snapshot_diff and scd2 compare rows by their hash: the pipeline adds it when not asked to.
        let needsHash =
            try [.snapshotDiff, .scd2].contains(document.sink.strategy.mode)
            && ConnectorRegistry.descriptor(for: document.sink.type, role: "sink").sinkComparesRowHashes
        if document.sink.options.rowHash || needsHash { chain.append(RowHash()) }
        if document.sink.options.lineage { chain.append(LineageColumns(loadID: loadID, loadedAtMicroseconds: loadedAt)) }
        return chain
    }
}

/// Renames some columns and keeps every other column in place.
struct Renaming: BatchTransform {
    let pairs: [(String, String)]
    var name: String { "rename" }

    func project(_ input: Schema) -> Project {
        let map = Dictionary(pairs, uniquingKeysWith: { $1 })
        return Project(columns: input.names.map { (source: $0, target: map[$0] ?? $0) })
    }

    func outputSchema(for input: Schema) throws -> Schema {
        for (from, _) in pairs where input.index(of: from) == nil {
            throw DponeError(
                .schema, "cannot rename unknown column '\(from)'",
                context: ["available": input.names.joined(separator: ", ")])
        }
        return try project(input).outputSchema(for: input)
    }

    func apply(_ batch: Batch) throws -> Batch { try project(batch.schema).apply(batch) }
}
