import Yams

extension ManifestError {
    /// A YAML parse failure as a manifest error at the position Yams reports.
    static func yamlSyntax(_ error: any Error, file: String, yaml: String) -> ManifestError {
        func make(_ mark: Position, _ message: String, _ hint: String? = nil) -> ManifestError {
            ManifestError(
                file: file, line: mark.line, column: mark.column, keyPath: "", message: message,
                hint: hint)
        }
        func contextHint(_ context: YamlError.Context?) -> String? {
            context.map { "\($0.text) starting at line \($0.mark.line), column \($0.mark.column)" }
        }
        guard let yamlError = error as? YamlError else {
            return make(.start, "invalid YAML: \(error)")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return make(Position(line: mark.line, column: mark.column), "invalid YAML: \(problem)", contextHint(context))
        case .reader(let problem, let offset, _, _):
            return make(mark(ofOffset: offset ?? 0, in: yaml), "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return make(Position(line: context.mark.line, column: context.mark.column), "duplicate key \(keys) in a mapping")
        default:
            return make(.start, "invalid YAML: \(yamlError)")
        }
    }

    /// The 1-based line and column of a character offset.
    private static func mark(ofOffset offset: Int, in text: String) -> Position {
        var line = 1
        var column = 1
        for c in text.prefix(offset) {
            if c == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return Position(line: line, column: column)
    }
}
