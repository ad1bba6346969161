import ConnectorKit
import Flow
import Manifest

/// The REST connector (libcurl on its own thread): a paginated JSON API as a source, in batch, and
/// polled under `dpone stream` with `poll_interval`.
public struct RESTDescriptor: ConnectorDescriptor {
    public init() {}

    public var type: EndpointType { .rest }
    public var roles: Set<EndpointRole> { [.source] }
    public var address: EndpointAddress { .connection }
    public var urlScheme: String? { "https" }
    public var sourceOptionKeys: [String]? { RESTOptionsDecoder.sourceKeys }
    /// An API has no query language: the pipeline applies `columns` and `custom_predicate`.
    public var sourceAppliesProjection: Bool { false }

    public func describe(source: SourceConfig) -> String {
        let rest = source.options.rest
        return "rest \(rest.resource.method.rawValue) \(RESTMasker(rest.secrets).mask(RESTURL.join(source.connection?.resolved.redactedURL ?? "", rest.resource.path)))"
    }

    public func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {
        guard let map = options.map else {
            options.ctx.fail(options.endpoint.ref, "a rest source needs options: {path: /resource, ...}")
            return
        }
        source.options.rest = RESTOptionsDecoder(ctx: options.ctx).options(map)
        if source.options.incrementalColumn != nil, let r = map["incremental_column"] {
            options.ctx.fail(r, "a rest source takes incremental: {cursor_path, param}, not incremental_column")
        }
    }

    /// An incremental API read returns only the records past the stored cursor.
    public func partialRead(_ source: SourceConfig, _ document: DocumentReader) -> PartialRead? {
        if source.options.rest.incremental != nil {
            return PartialRead(
                what: "an incremental rest source reads only the records past its stored cursor",
                fix: "drop source.options.incremental to read the whole resource", at: document.node("source", "options", "incremental"))
        }
        if source.options.rest.maxPages != nil {
            return PartialRead(
                what: "max_pages stops a rest read before the API's last page",
                fix: "drop source.options.max_pages to read the whole resource", at: document.node("source", "options", "max_pages"))
        }
        return nil
    }

    /// `dpone doctor`: the API's base URL answers (any status below 500).
    public func doctor(_ document: ManifestDocument) async -> [DoctorProbe] {
        guard document.source.type == .rest, let connection = document.source.connection else { return [] }
        let rest = document.source.options.rest
        var secrets = rest.secrets
        if let password = connection.resolved.password { secrets.append(password) }
        return [await HTTPProbe.get(RESTURL.join(connection.resolved.url, rest.resource.path), name: "rest source", secrets: secrets)]
    }

    public func makeSource(_ request: SourceRequest) throws -> any SourceOperator {
        let config = request.config
        let rest = config.options.rest
        if let continuous = request.continuous {
            guard let interval = rest.pollInterval else {
                try request.refuseContinuous(
                    hint: "add source.options.poll_interval (with incremental: {cursor_path, param}) to poll the API")
                throw DponeError(.internal, "unreachable")
            }
            var bounded = request
            bounded.continuous = nil
            return PollingSource(try makeSource(bounded), interval: interval, mode: continuous)
        }
        guard let base = config.connection?.resolved.url, !base.isEmpty else {
            throw DponeError(.manifest, "a rest source needs a connection: {url: https://api.example.com}")
        }
        var options = RESTSourceOptions(baseURL: base, rest: rest, schema: config.options.schema)
        options.secrets = [config.connection?.resolved.password].compactMap { $0 }
        if let rows = config.options.batchRows { options.batchRows = rows }
        return RESTSource(name: "rest:" + RESTMasker(rest.secrets).mask(rest.resource.path), options: options)
    }
}

extension EndpointType {
    /// The manifest's `type: rest`.
    public static let rest: EndpointType = "rest"
}
