import Flow
/// Where a ClickHouse HTTP interface lives and who to be there, parsed from a URL
/// `http[s]://[user[:password]@]host[:port][/][?setting=value&...]`.
///
/// - The user and password are taken out of the URL: requests go to `baseURL` (no credentials) and
///   carry them in the `X-ClickHouse-User` / `X-ClickHouse-Key` headers. `?user=` / `?password=`
///   in the query are taken out the same way. Percent-encoded user/password are decoded.
/// - Other query items become settings sent with every request (e.g. `?max_threads=2`), except
///   `database`, which becomes `database`.
/// - `redacted` (password as `***`) is the only form used in errors, descriptions and logs.
/// - Port defaults: 8123 for http, 8443 for https.
public struct ClickHouseEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int
    /// The request path, `/` unless the URL names another (e.g. behind a proxy).
    public let path: String
    public let user: String?
    /// Sent only as `X-ClickHouse-Key`; never printed.
    let password: String?
    /// `database` from the URL's query, if any.
    public let database: String?
    /// The URL's other query items, sent as settings with every request.
    public let settings: [String: String]

    /// Parses `url`; throws a `ClickHouseError` (with the URL redacted) when it is not a usable
    /// http(s) URL.
    public init(_ url: String) throws {
        func invalid(_ why: String) -> ClickHouseError {
            ClickHouseError(
                kind: .client, message: "invalid ClickHouse URL \(Self.redact(url)): \(why)",
                hint: "expected http://[user[:password]@]host:port/")
        }
        guard let schemeEnd = url.range(of: "://") else { throw invalid("no scheme") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw invalid("the scheme must be http or https") }
        var rest = url[schemeEnd.upperBound...]
        var query = Substring("")
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var pathPart = Substring("/")
        if let slash = rest.firstIndex(of: "/") {
            pathPart = rest[slash...]
            rest = rest[..<slash]
        }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = Self.percentDecode(info[..<colon])
                password = Self.percentDecode(info[info.index(after: colon)...])
            } else {
                user = Self.percentDecode(info)
            }
        }
        var host = String(rest)
        var port = scheme == "https" ? 8443 : 8123
        if host.hasPrefix("[") {  // [::1]:8123
            guard let close = host.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw invalid("bad port") }
                port = p
            }
            host = String(host[...close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                throw invalid("bad port")
            }
            port = p
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw invalid("no host") }
        for text in [user, password].compactMap({ $0 })
        where text.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw invalid("the user or password contains a line break")  // they travel in HTTP headers
        }
        var database: String?
        var settings: [String: String] = [:]
        for item in query.split(separator: "&") where !item.isEmpty {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.percentDecode(pair[0])
            let value = pair.count > 1 ? Self.percentDecode(pair[1]) : ""
            switch key {
            case "user": user = value
            case "password": password = value
            case "database": database = value.isEmpty ? nil : value
            default: settings[key] = value
            }
        }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = String(pathPart)
        self.user = user.flatMap { $0.isEmpty ? nil : $0 }
        self.password = password.flatMap { $0.isEmpty ? nil : $0 }
        self.database = database
        self.settings = settings
    }

    /// `host:port`, for messages.
    public var server: String { "\(host):\(port)" }

    /// The URL requests are sent to: scheme, host, port and path only (no credentials, no query).
    public var baseURL: String { "\(scheme)://\(host):\(port)\(path)" }

    /// The endpoint as a URL with the password replaced by `***` (settings omitted).
    public var redacted: String {
        var userinfo = ""
        if let user { userinfo = password == nil ? "\(user)@" : "\(user):***@" }
        return "\(scheme)://\(userinfo)\(host):\(port)\(path)"
    }

    public var description: String { redacted }

    /// `text` with every occurrence of the password replaced by `***`.
    public func scrub(_ text: String) -> String {
        guard let password, !password.isEmpty, text.contains(password) else { return text }
        return text.replacing(password, with: "***")
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.baseURL == b.baseURL && a.user == b.user && a.password == b.password && a.database == b.database
            && a.settings == b.settings
    }

    /// Any URL-looking string with its userinfo password (and `password=` query item) as `***`;
    /// for messages about URLs that did not parse (`Redaction`, shared with the log handler).
    public static func redact(_ url: String) -> String {
        guard !url.contains("://") else { return Redaction.scrub(url) }
        // `user:password@host` without a scheme: everything up to the last '@' of the userinfo.
        let end = url.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? url.endIndex
        guard let at = url[..<end].lastIndex(of: "@"), let colon = url[..<at].firstIndex(of: ":") else { return url }
        return String(url[...colon]) + Redaction.mask + String(url[at...])
    }

    static func percentDecode(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let b = utf8.popFirst() {
            if b == UInt8(ascii: "%"), utf8.count >= 2, let h = hexValue(utf8[utf8.startIndex]),
                let l = hexValue(utf8[utf8.startIndex + 1])
            {
                bytes.append(h << 4 | l)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `text` percent-encoded for a URL query value (RFC 3986 unreserved characters kept).
    static func percentEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(b >> 4)])
                out.unicodeScalars.append(hex[Int(b & 0xF)])
            }
        }
        return out
    }
}
