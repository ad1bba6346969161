import Flow
import Foundation

/// Parsing, building and redacting connection URLs without losing multi-host or odd forms.
enum ConnectionURL {
    struct Parts {
        var scheme: String?
        var host: String?
        var port: Int?
        var database: String?
        var username: String?
        var password: String?
    }

    /// Reads `scheme://user:password@host:port/database?...`; tolerates a host list (`a:9092,b:9092`).
    static func parse(_ url: String) -> Parts {
        var parts = Parts()
        guard let sep = url.range(of: "://") else { return parts }
        parts.scheme = String(url[..<sep.lowerBound])
        let rest = url[sep.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                parts.username = decode(userinfo[..<colon])
                parts.password = decode(userinfo[userinfo.index(after: colon)...])
            } else {
                parts.username = decode(userinfo)
            }
        }
        if !authority.contains(","), let colon = authority.lastIndex(of: ":"),
            !authority[colon...].contains("]"), let port = Int(authority[authority.index(after: colon)...])
        {
            parts.port = port
            authority = authority[..<colon]
        }
        parts.host = authority.isEmpty ? nil : String(authority)
        let tail = rest[authorityEnd...]
        if tail.first == "/" {
            let pathEnd = tail.firstIndex { $0 == "?" || $0 == "#" } ?? tail.endIndex
            let path = tail[tail.index(after: tail.startIndex)..<pathEnd]
            parts.database = path.isEmpty ? nil : decode(path)
        }
        if parts.password == nil, let query = tail.firstIndex(of: "?") {
            for pair in tail[tail.index(after: query)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, ["password", "pwd"].contains(kv[0].lowercased()) { parts.password = decode(kv[1]) }
            }
        }
        return parts
    }

    /// Replaces the userinfo password and any `password=` / `pwd=` value with `***` (`Redaction`,
    /// the redactor every log line goes through).
    static func redact(_ url: String) -> String { Redaction.scrub(url) }

    static func build(
        scheme: String, host: String, port: Int?, database: String?, username: String?, password: String?
    ) -> String {
        var url = scheme + "://"
        if let username {
            url += encode(username)
            if let password { url += ":" + encode(password) }
            url += "@"
        }
        url += host
        if let port { url += ":\(port)" }
        if let database { url += "/" + encode(database) }
        return url
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }

    private static func decode(_ s: Substring) -> String {
        String(s).removingPercentEncoding ?? String(s)
    }
}
