extension ManifestDecoder {
    static let fileOptionKeys = ["format", "delimiter", "quote", "null_token", "header"]

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
    private func character(_ ref: NodeRef) -> Character? {
        guard let text = ctx.string(ref) else { return nil }
        guard text.count == 1, let c = text.first else {
            ctx.fail(ref, "expected a single character, found '\(text)'")
            return nil
        }
        return c
    }
}
