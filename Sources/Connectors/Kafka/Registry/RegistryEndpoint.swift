import Flow
import Foundation

/// Where a schema registry lives, parsed from `http[s]://[user[:password]@]host[:port][/path]`, or a
/// comma-separated list of such URLs (Confluent's `schema.registry.url` form; tried in turn when one
/// is unreachable).
///
/// Credentials are taken out of the URLs: requests go to `baseURLs` (no userinfo) with an
/// `Authorization: Basic` header. Only `baseURLs` appear in errors and logs.
struct RegistryEndpoint: Sendable, Equatable {
    /// Scheme, host, port and path of each URL, without userinfo, query or trailing slash.
    let baseURLs: [String]
    let username: String?
    let password: String?

    /// Parses `url`; explicit `username`/`password` win over the URL's userinfo. Throws a
    /// `DponeError(kind)` whose text never holds the password.
    init(url: String, username: String?, password: String?, kind: DponeError.Kind) throws {
        var bases: [String] = []
        var urlUser: String?
        var urlPassword: String?
        for part in url.split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            func invalid(_ why: String) -> DponeError {
                DponeError(
                    kind, "invalid schema registry URL \(Self.redact(text)): \(why)",
                    hint: "expected http[s]://[user:password@]host:port[/path]")
            }
            guard let schemeEnd = text.range(of: "://") else { throw invalid("no scheme") }
            let scheme = text[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "http" || scheme == "https" else { throw invalid("the scheme must be http or https") }
            var rest = text[schemeEnd.upperBound...]
            if let q = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<q] }
            var path = Substring("")
            if let slash = rest.firstIndex(of: "/") {
                path = rest[slash...]
                rest = rest[..<slash]
            }
            if let at = rest.lastIndex(of: "@") {
                let info = rest[..<at]
                rest = rest[rest.index(after: at)...]
                if let colon = info.firstIndex(of: ":") {
                    urlUser = Self.percentDecode(info[..<colon])
                    urlPassword = Self.percentDecode(info[info.index(after: colon)...])
                } else {
                    urlUser = Self.percentDecode(info)
                }
            }
            guard !rest.isEmpty, !rest.hasPrefix(":") else { throw invalid("no host") }
            while path.hasSuffix("/") { path = path.dropLast() }
            bases.append("\(scheme)://\(rest)\(path)")
        }
        guard !bases.isEmpty else {
            throw DponeError(kind, "the schema registry URL is empty", hint: "set the registry URL, e.g. http://127.0.0.1:8081")
        }
        let user = (username?.isEmpty == false ? username : nil) ?? urlUser.flatMap { $0.isEmpty ? nil : $0 }
        let pass = (password?.isEmpty == false ? password : nil) ?? urlPassword.flatMap { $0.isEmpty ? nil : $0 }
        for value in [user, pass].compactMap({ $0 })
        where value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw DponeError(kind, "the schema registry user or password contains a line break")
        }
        baseURLs = bases
        self.username = user
        self.password = pass
    }

    /// The URLs for messages: no credentials.
    var display: String { baseURLs.joined(separator: ",") }

    /// `text` with the password replaced by `***` wherever it occurs.
    func scrub(_ text: String) -> String {
        guard let password, !password.isEmpty, text.contains(password) else { return text }
        return text.replacing(password, with: "***")
    }

    /// A URL with its userinfo removed, for messages about URLs that did not parse.
    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else {
            return url.contains("@") ? "***@" + (url.split(separator: "@").last.map(String.init) ?? "") : url
        }
        let rest = url[schemeEnd.upperBound...]
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        guard let at = rest[..<end].lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + String(rest[rest.index(after: at)...])
    }

    static func percentDecode(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `text` percent-encoded for one URL path segment (RFC 3986 unreserved characters stay).
    static func pathSegment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
