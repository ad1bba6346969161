import Flow
import CPostgres

/// A libpq connection string (URL `postgresql://...` or `key=value ...`) and what dpone may show of it.
///
/// The password is kept only to scrub it out of server and libpq messages; `redacted` is the form
/// used in every error, description and log line.
struct PostgresConnectionString: Sendable {
    /// The string as given: passed to libpq, never printed.
    let raw: String
    /// `raw` with the password replaced by `***` (URL userinfo, `?password=` and `password=` keyword).
    let redacted: String
    /// `host:port` as libpq will try it (comma-separated lists kept), for connection errors.
    let server: String
    /// libpq's complaint when `raw` does not parse (scrubbed), else nil.
    let parseError: String?
    private let password: String?

    init(_ raw: String) {
        self.raw = raw
        self.redacted = Self.redact(raw)
        let (options, parseError) = Self.parse(raw)
        password = options["password"].flatMap { $0.isEmpty ? nil : $0 }
        self.parseError = parseError.map { Self.redact($0) }
        let host = options["host"] ?? options["hostaddr"] ?? "localhost"
        let port = options["port"] ?? "5432"
        server = (host.isEmpty ? "localhost" : host) + ":" + (port.isEmpty ? "5432" : port)
    }

    /// `message` with every occurrence of the password replaced by `***`.
    func scrub(_ message: String) -> String {
        guard let password, message.contains(password) else { return message }
        return message.replacing(password, with: "***")
    }

    /// The options libpq reads from `raw`, or its error message when `raw` does not parse.
    private static func parse(_ raw: String) -> ([String: String], String?) {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(raw, &error) else {
            var message = "invalid connection string"
            if let error {
                message = String(cString: error).trimmingWhitespace()
                PQfreemem(error)
            }
            return ([:], message)
        }
        defer { PQconninfoFree(options) }
        var result: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { result[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return (result, nil)
    }

    /// Replaces the password in either libpq syntax with `***`.
    static func redact(_ raw: String) -> String {
        if raw.hasPrefix("postgresql://") || raw.hasPrefix("postgres://") {
            return redactURL(raw)
        }
        return redactKeywords(raw)
    }

    /// The URL form through `Redaction` (shared with the log handler): the userinfo password up to
    /// the last '@' (a password may hold '@', '/' or '?') and `password=` query items.
    private static func redactURL(_ url: String) -> String { Redaction.scrub(url) }

    /// `password = value` (value unquoted up to whitespace, or single-quoted with `\` escapes).
    private static func redactKeywords(_ text: String) -> String {
        let chars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        let key = Array("password".unicodeScalars)
        while i < chars.count {
            let atWordStart = i == 0 || chars[i - 1].properties.isWhitespace
            if atWordStart, i + key.count <= chars.count, Array(chars[i..<i + key.count]) == key {
                var j = i + key.count
                while j < chars.count, chars[j].properties.isWhitespace { j += 1 }
                if j < chars.count, chars[j] == "=" {
                    j += 1
                    while j < chars.count, chars[j].properties.isWhitespace { j += 1 }
                    if j < chars.count, chars[j] == "'" {
                        j += 1
                        while j < chars.count, chars[j] != "'" { j += chars[j] == "\\" ? 2 : 1 }
                        j = min(j + 1, chars.count)
                    } else {
                        while j < chars.count, !chars[j].properties.isWhitespace { j += 1 }
                    }
                    out.append(contentsOf: "password=***".unicodeScalars)
                    i = j
                    continue
                }
            }
            out.append(chars[i])
            i += 1
        }
        return String(out)
    }
}
