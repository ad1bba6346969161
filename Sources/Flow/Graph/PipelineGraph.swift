/// A pipeline as a DAG: one source, and per output route of the source (one for most sources; one
/// per table of a replication slot) a chain of transforms (each its own task) and one or more sinks
/// fed by a broadcast. Every edge is a bounded `BatchChannel`, so a slow route stalls the source only
/// once its own channels are full, and never another route's buffers.
public struct PipelineGraph: Sendable {
    /// One output of the source with what consumes it.
    public struct Route: Sendable {
        public var name: String
        public var transforms: [any BatchTransform]
        public var sinks: [any SinkOperator]

        public init(name: String, transforms: [any BatchTransform] = [], sinks: [any SinkOperator]) {
            self.name = name
            self.transforms = transforms
            self.sinks = sinks
        }
    }

    public var name: String
    public var source: any SourceOperator
    public var routes: [Route]
    public var bounds: ChannelBounds

    /// A graph with one route.
    public init(
        name: String, source: any SourceOperator, transforms: [any BatchTransform] = [],
        sinks: [any SinkOperator], bounds: ChannelBounds = .default
    ) {
        self.init(name: name, source: source, routes: [Route(name: name, transforms: transforms, sinks: sinks)], bounds: bounds)
    }

    public init(name: String, source: any SourceOperator, routes: [Route], bounds: ChannelBounds = .default) {
        self.name = name
        self.source = source
        self.routes = routes
        self.bounds = bounds
    }

    /// The first route's transforms.
    public var transforms: [any BatchTransform] { routes.first?.transforms ?? [] }
    /// Every sink of every route.
    public var sinks: [any SinkOperator] { routes.flatMap(\.sinks) }

    /// Checks the first route's transforms against the source schema before any data moves.
    public func resolveSchemas(sourceSchema: Schema) throws -> [Schema] {
        try Self.resolve(transforms, sourceSchema: sourceSchema)
    }

    static func resolve(_ transforms: [any BatchTransform], sourceSchema: Schema) throws -> [Schema] {
        var schemas = [sourceSchema]
        for t in transforms { schemas.append(try t.outputSchema(for: schemas[schemas.count - 1])) }
        return schemas
    }
}
