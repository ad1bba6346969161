import ConnectorKit
import Flow
import Formats
import Foundation

/// The requests of one paginated resource, one page after another: builds the first request, and
/// from each answer the next one, or nil at the end.
///
/// Stop rules: an empty page (every paginator that counts pages), a short page (`offset`), a total
/// from the body, no next token / URL / link, and `max_pages`. A token or URL that comes back is a
/// pagination loop and fails the read with both pages named.
struct RESTPager: Sendable {
    let resource: RESTResource
    let baseURL: String
    let maxPages: Int?
    /// Parameters added to every request of the resource (the incremental cursor and window).
    let extraParams: [RESTPair]
    let masker: RESTMasker

    private(set) var pages = 0
    /// `max_pages` ended the read while the API had more.
    private(set) var truncated = false
    private var pageNumber: Int
    private var offset = 0
    /// Tokens and URLs already followed, with the page they came from: the last `loopWindow` of them
    /// (a loop repeats within a few pages; memory must not grow with the number of pages).
    private var followed: [String: Int] = [:]
    private var followOrder: [String] = []
    private var followHead = 0
    static let loopWindow = 4096

    init(resource: RESTResource, baseURL: String, maxPages: Int?, extraParams: [RESTPair], masker: RESTMasker) {
        self.resource = resource
        self.baseURL = baseURL
        self.maxPages = maxPages
        self.extraParams = extraParams
        self.masker = masker
        if case .pageNumber(_, let start, _) = resource.paginator { pageNumber = start } else { pageNumber = 0 }
    }

    /// The request of the first page.
    func first() throws -> RESTRequest {
        var params = resource.params + extraParams
        switch resource.paginator {
        case .pageNumber(let param, let start, _): params.append(RESTPair(param, String(start)))
        case .offset(let offsetParam, let limitParam, let limit, _):
            params += [RESTPair(offsetParam, "0"), RESTPair(limitParam, String(limit))]
        case .none, .cursor, .nextURL, .linkHeader: break
        }
        return try request(url: RESTURL.appending(params, to: RESTURL.join(baseURL, resource.path)), bodyField: nil)
    }

    /// The request after a page with `records` records, or nil when the resource is exhausted.
    mutating func next(
        after current: RESTRequest, response: HTTPExchange.Response, records: Int
    ) throws -> RESTRequest? {
        pages += 1
        if let maxPages, pages >= maxPages {
            // Cut short, unless this page already was the last (an empty page, or no paginator).
            truncated = records > 0 && resource.paginator != .none
            return nil
        }
        let body = response.body
        func text(at path: String) throws -> String? {
            guard let jsonPath = JSONPath(path) else { return nil }
            return try body.withUnsafeBytes { raw in try jsonPath.locate(in: raw)?.text(in: raw) }
        }
        switch resource.paginator {
        case .none:
            return nil
        case .pageNumber(let param, let start, let totalPagesPath):
            guard records > 0 else { return nil }
            if let totalPagesPath, let total = try text(at: totalPagesPath).flatMap({ Int($0) }), pageNumber - start + 1 >= total {
                return nil
            }
            pageNumber += 1
            return try request(url: RESTURL.appending([RESTPair(param, String(pageNumber))], to: current.url), bodyField: nil)
        case .offset(let offsetParam, _, let limit, let totalPath):
            guard records > 0, records >= limit else { return nil }
            offset += limit
            if let totalPath, let total = try text(at: totalPath).flatMap({ Int($0) }), offset >= total { return nil }
            return try request(url: RESTURL.appending([RESTPair(offsetParam, String(offset))], to: current.url), bodyField: nil)
        case .cursor(let cursorPath, let cursorHeader, let param, let inBody):
            let token = try cursorPath.flatMap { try text(at: $0) } ?? cursorHeader.flatMap { response.header($0) }
            guard let token, !token.isEmpty else { return nil }
            try follow("token \(token)", what: "next-page token")
            if inBody { return try request(url: current.url, bodyField: RESTPair(param, token)) }
            return try request(url: RESTURL.appending([RESTPair(param, token)], to: current.url), bodyField: nil)
        case .nextURL(let path):
            guard let next = try text(at: path), !next.isEmpty else { return nil }
            let url = Self.resolve(next, against: current.url)
            try follow(url, what: "next-page URL")
            return try request(url: url, bodyField: nil)
        case .linkHeader:
            guard let link = response.header("link"), let next = Self.nextLink(link) else { return nil }
            let url = Self.resolve(next, against: current.url)
            try follow(url, what: "Link rel=\"next\" URL")
            return try request(url: url, bodyField: nil)
        }
    }

    private mutating func follow(_ key: String, what: String) throws {
        if let earlier = followed[key] {
            throw DponeError(
                .source,
                "pagination loop in \(masker.mask(RESTURL.join(baseURL, resource.path))): page \(pages) returned the \(what) of page \(earlier) again (\(masker.mask(key)))",
                hint: "check the paginator settings (source.options.paginator); max_pages bounds a read")
        }
        if followOrder.count < Self.loopWindow {
            followOrder.append(key)
        } else {
            followed[followOrder[followHead]] = nil
            followOrder[followHead] = key
            followHead = (followHead + 1) % Self.loopWindow
        }
        followed[key] = pages
    }

    private func request(url: String, bodyField: RESTPair?) throws -> RESTRequest {
        let method: HTTPExchange.Method = resource.method == .post ? .post : .get
        guard method == .post else { return RESTRequest(method: .get, url: url, body: nil) }
        var json = resource.json ?? "{}"
        if let bodyField {
            guard var object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
                throw DponeError(.manifest, "the json body must be an object to carry the cursor field '\(bodyField.name)'")
            }
            object[bodyField.name] = bodyField.value
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            json = String(decoding: data, as: UTF8.self)
        }
        return RESTRequest(method: .post, url: url, body: Array(json.utf8))
    }

    /// The `rel="next"` target of an RFC 8288 Link header.
    static func nextLink(_ header: String) -> String? {
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">") else { continue }
            for param in fields.dropFirst() {
                let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, kv[0].lowercased() == "rel" else { continue }
                let rels = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased().split(separator: " ")
                if rels.contains("next") { return String(target.dropFirst().dropLast()) }
            }
        }
        return nil
    }

    /// A URL from a body or header, made absolute against the request's URL.
    static func resolve(_ link: String, against current: String) -> String {
        if link.hasPrefix("http://") || link.hasPrefix("https://") { return link }
        guard let base = URL(string: current), let url = URL(string: link, relativeTo: base) else { return link }
        return url.absoluteString
    }
}
