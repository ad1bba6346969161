/// A pipeline as a DAG: one source, a chain of transforms (each its own task), and one or more sinks
/// fed by a broadcast. Every edge is a bounded `BatchChannel`.
public struct PipelineGraph: Sendable {
    public var name: String
    public var source: any SourceOperator
    public var transforms: [any BatchTransform]
    public var sinks: [any SinkOperator]
    public var bounds: ChannelBounds

    public init(
        name: String, source: any SourceOperator, transforms: [any BatchTransform] = [],
        sinks: [any SinkOperator], bounds: ChannelBounds = .default
    ) {
        self.name = name
        self.source = source
        self.transforms = transforms
        self.sinks = sinks
        self.bounds = bounds
    }

    /// Checks every transform against the source schema before any data moves.
    public func resolveSchemas(sourceSchema: Schema) throws -> [Schema] {
        var schemas = [sourceSchema]
        for t in transforms { schemas.append(try t.outputSchema(for: schemas[schemas.count - 1])) }
        return schemas
    }
}
