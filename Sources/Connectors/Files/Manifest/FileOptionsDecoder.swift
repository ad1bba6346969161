import Flow
import Formats
import Manifest

/// The `options` of a files source or sink: the file layout.
struct FileOptionsDecoder {
    static let keys = ["format", "delimiter", "quote", "null_token", "header"]

    let ctx: DecodingContext

    /// The file layout of a files source or sink from its `options` (nil map: all defaults).
    /// The format defaults to the path's extension, then to `defaultFormat`; with neither, and no
    /// `format`, it is an error.
    func fileOptions(
        _ map: MappingReader?, path: String, pathRef: NodeRef, defaultFormat: FileFormat? = nil
    ) -> FileOptions? {
        var format = FileFormat.inferred(fromPath: path) ?? defaultFormat
        if let r = map?["format"] {
            guard let f: FileFormat = ctx.choice(r, "file format") else { return nil }
            format = f
        }
        guard let format else {
            ctx.fail(
                pathRef, "cannot infer the file format of '\(path)' from its extension",
                hint: "set options.format to one of: \(FileFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        var options = FileOptions(format: format, delimiter: path.lowercased().hasSuffix(".tsv") ? "\t" : ",")
        var ok = true
        if let r = map?["delimiter"] {
            if let c = character(r) { options.delimiter = c } else { ok = false }
        }
        if let r = map?["quote"] {
            if let c = character(r) { options.quote = c } else { ok = false }
        }
        if let r = map?["null_token"] {
            if let s = ctx.literalText(r) { options.nullToken = s } else { ok = false }
        }
        if let r = map?["header"] {
            if let b = ctx.bool(r) { options.header = b } else { ok = false }
        }
        return ok ? options : nil
    }

    /// Exactly one character.
    func character(_ ref: NodeRef) -> Character? {
        guard let text = ctx.string(ref) else { return nil }
        guard text.count == 1, let c = text.first else {
            ctx.fail(ref, "expected a single character, found '\(text)'")
            return nil
        }
        return c
    }
}

extension FilesDescriptor {
    public var address: EndpointAddress { .path }
    public var urlScheme: String? { nil }
    public var sourceOptionKeys: [String]? { FileOptionsDecoder.keys }
    public var sinkOptionKeys: [String]? { FileOptionsDecoder.keys }
    /// A file is replaced whole, or a directory gets one more part file.
    public var supportedModes: [LoadMode] { [.fullRefresh, .incrementalAppend] }

    public func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {
        guard let path = source.path else { return }
        let file = FileOptionsDecoder(ctx: options.ctx).fileOptions(
            options.map, path: path, pathRef: options.endpoint["path"] ?? options.endpoint.ref)
        source.options.connector = file.map(AnyConnectorOptions.init)
    }

    public func decodeSinkOptions(_ options: OptionsReader, into sink: inout SinkConfig) {
        guard let path = sink.path else { return }
        // An appending files sink writes part files into a directory, whose name has no extension to
        // infer a format from: csv unless options.format says otherwise.
        let file = FileOptionsDecoder(ctx: options.ctx).fileOptions(
            options.map, path: path, pathRef: options.endpoint["path"] ?? options.endpoint.ref,
            defaultFormat: sink.strategy.mode == .incrementalAppend ? .csv : nil)
        sink.options.connector = file.map(AnyConnectorOptions.init)
    }
}
