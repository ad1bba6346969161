/// Replaces `${VAR}` references in a manifest scalar with values from an environment.
///
/// - `${VAR}`: the variable's value; an unset variable is an error (a set but empty one is "").
/// - `${VAR:-fallback}`: the value, or `fallback` when unset or empty.
/// - `$${`: a literal `${` (no substitution).
/// - Any other `$` is literal. Names match `[A-Za-z_][A-Za-z0-9_]*`.
///
/// In the manifest, a plain (unquoted) scalar is typed after substitution (`batch_rows: ${N}` is an
/// integer); a quoted one stays a string. Inside a YAML flow mapping (`{...}`) quote the reference.
public enum VariableSubstitution {
    public enum Failure: Error, Sendable, Equatable {
        case unset(name: String)
        case unterminated
        case invalidName(String)
    }

    /// Whether `text` contains anything this would substitute or unescape.
    public static func hasReferences(_ text: String) -> Bool { text.contains("${") }

    public static func substitute(_ text: String, environment: [String: String]) -> Result<String, Failure> {
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let rest = text[i...]
            if rest.hasPrefix("$${") {
                out += "${"
                i = text.index(i, offsetBy: 3)
            } else if rest.hasPrefix("${") {
                let start = text.index(i, offsetBy: 2)
                guard let close = text[start...].firstIndex(of: "}") else { return .failure(.unterminated) }
                let body = text[start..<close]
                var name = Substring(body)
                var fallback: Substring?
                if let sep = body.range(of: ":-") {
                    name = body[..<sep.lowerBound]
                    fallback = body[sep.upperBound...]
                }
                guard isValidName(name) else { return .failure(.invalidName(String(name))) }
                if let value = environment[String(name)], !(fallback != nil && value.isEmpty) {
                    out += value
                } else if let fallback {
                    out += fallback
                } else {
                    return .failure(.unset(name: String(name)))
                }
                i = text.index(after: close)
            } else {
                out.append(text[i])
                i = text.index(after: i)
            }
        }
        return .success(out)
    }

    private static func isValidName(_ name: Substring) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
