import ConnectorKit
import Flow
import Manifest

/// The counter source's own option: `source.options.up_to`.
struct CounterOptions: ConnectorOptions, Hashable {
    var renderKey: String { "counter" }
    var upTo: Int
}

/// The "Writing a connector" guide's descriptors: what the manifest's `type: counter` and
/// `type: memory` mean, and how their operators are built. Nothing outside this folder knows them.
struct CounterDescriptor: ConnectorDescriptor {
    var type: EndpointType { "counter" }
    var roles: Set<EndpointRole> { [.source] }
    /// Addressed by nothing: no path, table, topic or connection.
    var address: EndpointAddress { .connection }
    var urlScheme: String? { nil }
    var sourceOptionKeys: [String]? { ["up_to"] }

    /// `up_to` is required and positive; errors point at the key (`file:line:column`).
    func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {
        guard let map = options.map else {
            options.ctx.fail(options.endpoint.ref, "missing required key 'options' (a counter source needs options.up_to)")
            return
        }
        if let upTo = map.required("up_to", options.ctx).flatMap({ options.ctx.positiveInt($0) }) {
            source.options.connector = AnyConnectorOptions(CounterOptions(upTo: upTo))
        }
    }

    func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        try request.refuseContinuous()
        guard let counter = request.config.options.connector(CounterOptions.self) else {
            throw DponeError(.manifest, "a counter source needs options.up_to")
        }
        return CounterSource(upTo: Int64(counter.upTo), batchRows: request.config.options.batchRows ?? 1_024)
    }
}

struct MemoryDescriptor: ConnectorDescriptor {
    let database: MemoryDatabase

    var type: EndpointType { "memory" }
    var roles: Set<EndpointRole> { [.sink] }
    var address: EndpointAddress { .table }
    var urlScheme: String? { nil }
    /// It upserts by key.
    var supportedModes: [LoadMode] { [.incrementalMerge] }

    func makeSink(_ request: SinkRequest) throws -> any SinkOperator { MemoryTableSink(database: database) }
}
