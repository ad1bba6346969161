import ConnectorKit
import Flow
import Foundation
import Synchronization

/// One HTTP request of a REST read.
struct RESTRequest: Sendable, Hashable {
    var method: HTTPExchange.Method
    var url: String
    var body: [UInt8]?
}

/// What the retry loop saw, for the run log and the tests.
struct RESTRetryEvent: Sendable, Equatable {
    var status: Int?
    var wait: Double
    var reason: String
}

/// The HTTP side of a REST source: authentication, retries with backoff, `Retry-After`, rate limits
/// and per-status actions, over one libcurl handle on its own thread.
///
/// Every exchange runs on the client's `DedicatedThread`, never on Swift's cooperative pool.
/// Error messages and logs pass through the masker: no secret reaches them.
final class RESTClient: Sendable {
    let options: RESTOptions
    let masker: RESTMasker
    private let clock: any RESTClock
    private let random: @Sendable () -> Double
    private let limiter: RESTRateLimiter
    private let tokens: RESTTokenCache
    private let thread: DedicatedThread
    private let http = HTTPExchange()
    private let events = Mutex<[RESTRetryEvent]>([])
    private let requestCount = Atomic<Int>(0)

    init(
        options: RESTOptions, masker: RESTMasker, clock: any RESTClock, random: @escaping @Sendable () -> Double,
        limiter: RESTRateLimiter, tokens: RESTTokenCache, name: String
    ) {
        self.options = options
        self.masker = masker
        self.clock = clock
        self.random = random
        self.limiter = limiter
        self.tokens = tokens
        self.thread = DedicatedThread(name: name)
    }

    deinit { thread.stop() }

    var retryEvents: [RESTRetryEvent] { events.withLock { $0 } }
    var requests: Int { requestCount.load(ordering: .relaxed) }

    /// Stops the client's thread once pending requests are done.
    func close() async {
        let http = self.http
        _ = try? await thread.run { http.close() }
        thread.stop()
    }

    /// Sends `request` until it succeeds, is ignored by `on_status` (nil), or fails for good.
    func fetch(_ request: RESTRequest) async throws -> HTTPExchange.Response? {
        let retry = options.retry
        var attempt = 0
        var waited = 0.0
        var refreshedToken = false
        while true {
            try Task.checkCancellation()
            attempt += 1
            try await limiter.acquire()
            let (url, headers) = try await authorize(request)
            let outcome = try await exchange(request.method, url: url, headers: headers, body: request.body)
            var retryAfter: Double?
            let reason: String
            let status: Int?
            switch outcome {
            case .success(let response):
                await limiter.observe { response.header($0) }
                status = response.status
                if (200..<300).contains(response.status) { return response }
                if response.status == 401, case .oauth2 = options.auth, !refreshedToken {
                    // An expired or revoked token: fetch a new one, once, and try again at once.
                    refreshedToken = true
                    await tokens.invalidate()
                    attempt -= 1
                    continue
                }
                let action = options.onStatus[response.status] ?? Self.defaultAction(response.status)
                switch action {
                case .ignore: return nil
                case .fail: throw failure(request, response)
                case .retry: break
                }
                retryAfter = Self.retryAfter(response.header("retry-after"), now: clock.now())
                reason = "HTTP \(response.status)"
                if attempt >= retry.maxAttempts { throw failure(request, response, attempts: attempt) }
            case .failure(let failure):
                status = nil
                switch failure.kind {
                case .cancelled: throw CancellationError()
                case .tooLarge:
                    throw DponeError(
                        .source, "\(request.method.rawValue) \(masker.mask(request.url)) returned a page larger than max_page_bytes (\(options.maxPageBytes) bytes)",
                        hint: "raise source.options.max_page_bytes or ask for smaller pages", context: ["url": masker.mask(request.url)])
                case .timeout, .connection, .other:
                    reason = failure.kind == .timeout ? "timeout" : masker.mask(failure.message)
                    if attempt >= retry.maxAttempts || failure.kind == .other {
                        throw DponeError(
                            .source, "\(request.method.rawValue) \(masker.mask(request.url)) failed: \(masker.mask(failure.message))"
                                + (attempt > 1 ? " (after \(attempt) attempts)" : ""),
                            hint: "check that the API is reachable; retry settings: source.options.retry",
                            context: ["url": masker.mask(request.url)])
                    }
                }
            }
            let backoff = min(retry.max, retry.initial * pow(2, Double(attempt - 1)))
            var wait = retryAfter.map { min($0, retry.maxRetryWait) } ?? backoff * (0.5 + 0.5 * random())
            wait = max(0, wait)
            guard waited + wait <= retry.maxElapsed else {
                throw DponeError(
                    .source,
                    "\(request.method.rawValue) \(masker.mask(request.url)) still fails (\(reason)) after \(attempt) attempts and \(Int(waited)) s of retries: the retry budget (max_elapsed \(Int(retry.maxElapsed)) s) is spent",
                    hint: "raise source.options.retry.max_elapsed, or check the API", context: ["url": masker.mask(request.url)])
            }
            events.withLock { $0.append(RESTRetryEvent(status: status, wait: wait, reason: reason)) }
            waited += wait
            try await clock.sleep(seconds: wait)
        }
    }

    /// 429, 408 and 5xx gateway or availability answers are retried; every other status fails.
    static func defaultAction(_ status: Int) -> RESTStatusAction {
        [408, 425, 429, 500, 502, 503, 504].contains(status) ? .retry : .fail
    }

    /// `Retry-After` as seconds, or as an HTTP date (RFC 9110 IMF-fixdate), in seconds from `now`.
    static func retryAfter(_ text: String?, now: Double) -> Double? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Double(text) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return max(0, date.timeIntervalSince1970 - now) }
        }
        return nil
    }

    private func failure(_ request: RESTRequest, _ response: HTTPExchange.Response, attempts: Int = 1) -> DponeError {
        let snippet = String(decoding: response.body.prefix(300), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
        let url = masker.mask(request.url)
        var hint: String?
        switch response.status {
        case 401, 403: hint = "check source.options.auth and the credentials it names"
        case 404: hint = "check the connection URL and source.options.path; on_status: {404: ignore} skips missing resources"
        case 429: hint = "the API kept refusing for its rate limit; set source.options.rate_limit or raise retry.max_elapsed"
        default: break
        }
        return DponeError(
            .source,
            "\(request.method.rawValue) \(url) answered HTTP \(response.status)"
                + (attempts > 1 ? " after \(attempts) attempts" : "") + (snippet.isEmpty ? "" : ": \(masker.mask(snippet))"),
            hint: hint, context: ["url": url, "http_status": String(response.status)])
    }

    /// The URL and headers with authentication applied.
    private func authorize(_ request: RESTRequest) async throws -> (String, [String]) {
        var headers = options.headers.map { "\($0.name): \($0.value)" }
        headers.append("Accept: application/json")
        if request.body != nil { headers.append("Content-Type: application/json") }
        var url = request.url
        switch options.auth {
        case .none: break
        case .bearer(let token): headers.append("Authorization: Bearer \(token)")
        case .basic(let user, let password):
            headers.append("Authorization: Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
        case .apiKey(let name, let value, let inQuery):
            if inQuery {
                url = RESTURL.appending([RESTPair(name, value)], to: url)
            } else {
                headers.append("\(name): \(value)")
            }
        case .oauth2(let tokenURL, let id, let secret, let scope):
            let token = try await tokens.token { [self] in try await self.fetchToken(tokenURL, id: id, secret: secret, scope: scope) }
            headers.append("Authorization: Bearer \(token)")
        }
        return (url, headers)
    }

    /// An OAuth2 client-credentials token and its lifetime in seconds.
    private func fetchToken(_ tokenURL: String, id: String, secret: String, scope: String?) async throws -> (String, Double) {
        var form = "grant_type=client_credentials&client_id=\(RESTURL.encode(id))&client_secret=\(RESTURL.encode(secret))"
        if let scope { form += "&scope=\(RESTURL.encode(scope))" }
        let outcome = try await exchange(
            .post, url: tokenURL, headers: ["Content-Type: application/x-www-form-urlencoded", "Accept: application/json"],
            body: Array(form.utf8))
        switch outcome {
        case .failure(let failure):
            throw DponeError(.source, "the OAuth2 token request to \(masker.mask(tokenURL)) failed: \(masker.mask(failure.message))")
        case .success(let response):
            guard (200..<300).contains(response.status),
                let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                let token = object["access_token"] as? String
            else {
                throw DponeError(
                    .source, "the OAuth2 token endpoint \(masker.mask(tokenURL)) answered HTTP \(response.status) without an access_token",
                    hint: "check auth.client_id, auth.client_secret and auth.scope")
            }
            let lifetime = (object["expires_in"] as? NSNumber)?.doubleValue ?? Double(object["expires_in"] as? String ?? "") ?? 3600
            return (token, lifetime)
        }
    }

    private func exchange(
        _ method: HTTPExchange.Method, url: String, headers: [String], body: [UInt8]?
    ) async throws -> Result<HTTPExchange.Response, HTTPExchange.TransportFailure> {
        let http = self.http
        let timeout = options.timeoutSeconds
        let limit = options.maxPageBytes
        let cancel = HTTPCancel()
        requestCount.add(1, ordering: .relaxed)
        return try await withTaskCancellationHandler {
            try await thread.run {
                do throws(HTTPExchange.TransportFailure) {
                    return .success(
                        try http.perform(method, url: url, headers: headers, body: body, timeoutSeconds: timeout, bodyLimit: limit, cancel: cancel))
                } catch {
                    return .failure(error)
                }
            }
        } onCancel: {
            cancel.cancel()
        }
    }
}

/// The OAuth2 token of a source, shared by its connections, cached until shortly before it expires.
actor RESTTokenCache {
    private let clock: any RESTClock
    private var token: String?
    private var expires: Double = 0
    private(set) var fetches = 0

    init(clock: any RESTClock) { self.clock = clock }

    func token(_ fetch: @Sendable () async throws -> (String, Double)) async throws -> String {
        if let token, clock.now() < expires { return token }
        let (fresh, lifetime) = try await fetch()
        fetches += 1
        token = fresh
        // Renew a little early so a token does not expire in flight.
        expires = clock.now() + max(0, lifetime - min(30, lifetime / 10))
        return fresh
    }

    func invalidate() {
        token = nil
        expires = 0
    }
}

/// URL assembly: base + path + query, percent-encoded.
enum RESTURL {
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s }

    /// `url` with `pairs` added to its query (replacing parameters of the same name).
    static func appending(_ pairs: [RESTPair], to url: String) -> String {
        guard !pairs.isEmpty else { return url }
        var base = url
        var fragment = ""
        if let hash = base.firstIndex(of: "#") {
            fragment = String(base[hash...])
            base = String(base[..<hash])
        }
        let names = Set(pairs.map(\.name))
        var query: [String] = []
        if let q = base.firstIndex(of: "?") {
            query = base[base.index(after: q)...].split(separator: "&").map(String.init).filter { item in
                let name = item.split(separator: "=", maxSplits: 1).first.map(String.init) ?? item
                return !names.contains(name.removingPercentEncoding ?? name)
            }
            base = String(base[..<q])
        }
        query += pairs.map { "\(encode($0.name))=\(encode($0.value))" }
        return base + "?" + query.joined(separator: "&") + fragment
    }

    /// `base` joined with `path` (a path starting with http:// or https:// is taken whole).
    static func join(_ base: String, _ path: String) -> String {
        if path.hasPrefix("http://") || path.hasPrefix("https://") { return path }
        if path.isEmpty { return base }
        let b = base.hasSuffix("/") ? String(base.dropLast()) : base
        return b + (path.hasPrefix("/") ? path : "/" + path)
    }
}
