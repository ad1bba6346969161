import Flow

/// One problem found in a manifest, located by file, 1-based line and column, and key path.
///
/// `description` renders it exactly as
/// `path/to/manifest.yml:12:5: error: <message> at 'sink.strategy.mode'`
/// followed, when there is a hint, by a second line `  hint: <hint>`.
/// The ` at '...'` suffix is left out when the key path is empty (the document root, YAML syntax errors).
/// Messages never contain a password.
public struct ManifestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The manifest file as given to the loader.
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int
    /// Dotted key path such as `sink.strategy.mode` or `transforms[1].columns`; empty for the root.
    public var keyPath: String
    public var message: String
    public var hint: String?

    public init(file: String, line: Int, column: Int, keyPath: String, message: String, hint: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
        self.hint = hint
    }

    /// The first line: `file:line:column: error: message at 'key.path'`.
    public var headline: String {
        let location = keyPath.isEmpty ? "" : " at '\(keyPath)'"
        return "\(file):\(line):\(column): error: \(message)\(location)"
    }

    public var description: String {
        guard let hint else { return headline }
        return headline + "\n  hint: " + hint
    }

    /// The same problem as the engine-wide error (kind `.manifest`, exit code 2).
    public var dponeError: DponeError {
        DponeError(
            .manifest, headline, hint: hint,
            context: [:])
    }
}
