import Foundation
import Logging

/// Masks secrets in free text, whatever produced it: the one redactor behind every log line (see
/// `RedactingLogHandler`), so masking no longer depends on each call site.
///
/// - The password of a URL `scheme://user:password@host...`: everything from the first `:` after
///   the user up to the **last** `@` of the token, so a password holding `/`, `?`, `#`, `@` or
///   percent-escapes is masked whole (a token with no `@` has no password).
/// - The value of a secret-named setting written `key=value`, `key: value` or `"key":"value"`:
///   `password`, `passwd`, `pwd`, `secret`, `token`, `api_key` / `apikey`, `access_key`,
///   `secret_key`, `sasl.password` (any case; a quoted or ODBC-braced value is masked whole with
///   its quotes or braces, a bare one up to whitespace, `&`, `;`, `,`, a quote or a brace).
public enum Redaction {
    public static let mask = "***"

    public static func scrub(_ text: String) -> String {
        guard text.contains("://") || text.range(of: secretKey, options: [.regularExpression, .caseInsensitive]) != nil else {
            return text
        }
        return scrubSettings(scrubURLs(text))
    }

    private static let secretKey = #"(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key)"#

    private static func scrubURLs(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: #"[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@"']*:"#, options: .regularExpression) {
            result += rest[..<start.upperBound]
            rest = rest[start.upperBound...]
            let tokenEnd = rest.firstIndex { $0.isWhitespace || $0 == "\"" || $0 == "'" } ?? rest.endIndex
            if let at = rest[..<tokenEnd].lastIndex(of: "@") {
                result += mask
                rest = rest[at...]
            }
        }
        return result + rest
    }

    private static func scrubSettings(_ text: String) -> String {
        // A quoted value is masked whole, quotes included; a bare one up to a delimiter.
        // An ODBC value in braces (`PWD={a;b}}c}`, `}}` escaping a brace) is masked whole too.
        let pattern = #"(?i)\b"# + secretKey + #"(["']?\s*[=:]\s*)("[^"]*"|'[^']*'|\{(?:[^}]|\}\})*\}|[^\s&;,"'}]+)"#
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return text }
        let range = NSRange(text.startIndex..., in: text)
        return regex.stringByReplacingMatches(in: text, range: range, withTemplate: "$1$2" + mask)
    }

    /// `value` with every string in it scrubbed.
    public static func scrub(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let s): .string(scrub(s))
        case .stringConvertible(let c): .string(scrub(c.description))
        case .array(let values): .array(values.map(scrub))
        case .dictionary(let values): .dictionary(values.mapValues(scrub))
        }
    }
}

/// A log handler that scrubs every message and metadata value (`Redaction`) before `inner` writes
/// it: the process's one place where secrets are masked in logs.
public struct RedactingLogHandler<Inner: LogHandler>: LogHandler {
    public var inner: Inner

    public init(_ inner: Inner) { self.inner = inner }

    public func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: Redaction.scrub(event.message.description))
        event.metadata = event.metadata?.mapValues(Redaction.scrub)
        if let error = event.error {  // an error's text can carry a URL: it goes out scrubbed, as metadata
            event.error = nil
            event.metadata = (event.metadata ?? [:]).merging(["error": .string(Redaction.scrub("\(error)"))]) { kept, _ in kept }
        }
        inner.log(event: event)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue.map(Redaction.scrub) }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue.mapValues(Redaction.scrub) }
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }
}
