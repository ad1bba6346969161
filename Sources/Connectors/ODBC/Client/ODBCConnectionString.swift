import Flow

/// ODBC connection strings: `key=value;` pairs, a value in braces (`{...}`, `}}` for a brace) when
/// it holds `;` or spaces.
public enum ODBCConnectionString {
    /// The attributes in order, keys as written.
    public static func attributes(_ text: String) -> [(key: String, value: String)] {
        var result: [(String, String)] = []
        var i = text.startIndex
        while i < text.endIndex {
            guard let eq = text[i...].firstIndex(of: "=") else { break }
            let key = text[i..<eq].trimmingCharacters(in: .whitespaces)
            var j = text.index(after: eq)
            var value = ""
            if j < text.endIndex, text[j] == "{" {
                j = text.index(after: j)
                while j < text.endIndex {
                    if text[j] == "}" {
                        let next = text.index(after: j)
                        if next < text.endIndex, text[next] == "}" {
                            value.append("}")
                            j = text.index(after: next)
                            continue
                        }
                        j = next
                        break
                    }
                    value.append(text[j])
                    j = text.index(after: j)
                }
                j = text[j...].firstIndex(of: ";") ?? text.endIndex
            } else {
                let end = text[j...].firstIndex(of: ";") ?? text.endIndex
                value = String(text[j..<end])
                j = end
            }
            if !key.isEmpty { result.append((key, value)) }
            i = j < text.endIndex ? text.index(after: j) : j
        }
        return result
    }

    static let secretKeys: Set<String> = ["pwd", "password", "passwd", "accesstoken", "secret", "token"]

    /// `text` with every secret attribute's value (`PWD`, `Password`...) replaced by `***`, and
    /// any other secret the log redactor knows.
    public static func redacted(_ text: String) -> String {
        attributes(text).map { key, value in
            secretKeys.contains(key.lowercased()) ? "\(key)=\(Redaction.mask)" : "\(key)=\(Redaction.scrub(value))"
        }.joined(separator: ";")
    }
}
