extension ManifestDocument {
    /// One line for humans: `files data/orders.csv -> files out/orders.csv (full_refresh, 2 transforms)`.
    public var summary: String {
        let transformsText = transforms.isEmpty ? "" : ", \(transforms.count) transform\(transforms.count == 1 ? "" : "s")"
        return "\(source.type.rawValue) \(source.target) -> \(sink.type.rawValue) \(sink.target) "
            + "(\(sink.strategy.mode.rawValue)\(transformsText))"
    }

    /// The effective manifest as pretty JSON with sorted keys, passwords masked.
    public func renderedJSON() throws -> String { try ManifestRenderer.render(self, as: .json) }

    /// The effective manifest as YAML, passwords masked.
    public func renderedYAML() throws -> String { try ManifestRenderer.render(self, as: .yaml) }
}

extension SourceConfig {
    /// What the source reads, for messages: a path, `schema.table`, a topic or the redacted URL.
    public var target: String {
        path ?? table?.qualifiedName ?? topic ?? connection?.resolved.redactedURL ?? type.rawValue
    }
}

extension SinkConfig {
    /// What the sink writes, for messages: a path, `schema.table` or a topic.
    public var target: String {
        path ?? table?.qualifiedName ?? topic ?? connection?.resolved.redactedURL ?? type.rawValue
    }
}
