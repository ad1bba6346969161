import ConnectorKit
import DponeTestSupport
import Flow
import Foundation
import Synchronization
import Testing

@testable import RESTConnector

/// Retries, Retry-After, per-status actions, rate limits and timeouts. Waits are measured on a
/// virtual clock: the tests assert the exact backoff, never wall time.
@Suite("REST retries and rate limits") struct RESTResilienceTests {
    let schema = Schema([Field("id", .int64)])

    /// A server answering from `script` in order (the last repeats), counting requests.
    func scripted(_ script: [RESTTestResponse]) throws -> RESTTestServer {
        let next = Mutex(0)
        return try RESTTestServer { _ in
            let i = next.withLock { n in
                defer { n += 1 }
                return n
            }
            return script[min(i, script.count - 1)]
        }
    }

    static let ok = RESTTestResponse.json("[{\"id\":1},{\"id\":2}]")

    @Test("429 with Retry-After in seconds waits exactly that long")
    func retryAfterSeconds() async throws {
        let server = try scripted([.json("{}", status: 429, headers: [("Retry-After", "7")]), Self.ok])
        defer { server.stop() }
        let clock = VirtualClock()
        let s = source(server, path: "/r", clock: clock, schema: schema)
        #expect(try await read(s).rowCount == 2)
        #expect(clock.sleeps == [7])
        #expect(s.statistics.retries.map(\.status) == [429])
    }

    @Test("429 with Retry-After as an HTTP date waits until that date, capped by max_retry_wait")
    func retryAfterDate() async throws {
        let clock = VirtualClock()
        let when = Date(timeIntervalSince1970: clock.now() + 42)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let date = f.string(from: when)
        let far = f.string(from: Date(timeIntervalSince1970: clock.now() + 10_000))
        let server = try scripted([
            .json("{}", status: 429, headers: [("Retry-After", date)]),
            .json("{}", status: 429, headers: [("Retry-After", far)]), Self.ok,
        ])
        defer { server.stop() }
        let s = source(server, path: "/r", clock: clock, schema: schema) { $0.retry.maxRetryWait = 60 }
        #expect(try await read(s).rowCount == 2)
        #expect(clock.sleeps == [42, 60])
    }

    @Test("a 500/503 streak backs off exponentially (with jitter), then succeeds")
    func serverErrorStreak() async throws {
        let server = try scripted([
            .json("{}", status: 500), .json("{}", status: 503), .json("{}", status: 503), .json("{}", status: 502), Self.ok,
        ])
        defer { server.stop() }
        let clock = VirtualClock()
        let s = source(server, path: "/r", clock: clock, schema: schema) {
            $0.retry.initial = 1
            $0.retry.max = 5
        }
        #expect(try await read(s).rowCount == 2)
        // random() is 0.5 in tests: wait = backoff * 0.75; backoff 1, 2, 4, 5 (capped).
        #expect(clock.sleeps == [0.75, 1.5, 3, 3.75])
        #expect(server.requests.count == 5)
    }

    @Test("the retry budget (max_attempts) ends a streak with the status, URL and body snippet")
    func attemptsExhausted() async throws {
        let server = try scripted([.json("{\"message\":\"overloaded\"}", status: 503)])
        defer { server.stop() }
        let s = source(server, path: "/r", schema: schema) { $0.retry.maxAttempts = 3 }
        let error = await #expect(throws: DponeError.self) { try await read(s) }
        #expect(error?.message == "GET \(server.url)/r answered HTTP 503 after 3 attempts: {\"message\":\"overloaded\"}")
        #expect(server.requests.count == 3)
    }

    @Test("the total wait budget (max_elapsed) ends a streak")
    func elapsedExhausted() async throws {
        let server = try scripted([.json("{}", status: 429, headers: [("Retry-After", "30")])])
        defer { server.stop() }
        let clock = VirtualClock()
        let s = source(server, path: "/r", clock: clock, schema: schema) { $0.retry.maxElapsed = 70 }
        let error = await #expect(throws: DponeError.self) { try await read(s) }
        #expect(error?.message.contains("retry budget (max_elapsed 70 s) is spent") == true, "\(error?.message ?? "")")
        #expect(clock.sleeps == [30, 30])
    }

    @Test("a non-retryable status fails at once")
    func badRequest() async throws {
        let server = try scripted([.json("{\"error\":\"bad filter\"}", status: 400)])
        defer { server.stop() }
        let error = await #expect(throws: DponeError.self) { try await read(source(server, path: "/r", schema: schema)) }
        #expect(error?.message.contains("answered HTTP 400: {\"error\":\"bad filter\"}") == true)
        #expect(error?.context["http_status"] == "400")
        #expect(server.requests.count == 1)
    }

    @Test("on_status: 409 retry, 400 fail, 404 ignore")
    func perStatusActions() async throws {
        let server = try scripted([.json("{}", status: 409), Self.ok])
        defer { server.stop() }
        let clock = VirtualClock()
        let s = source(server, path: "/r", clock: clock, schema: schema) { $0.onStatus = [409: .retry] }
        #expect(try await read(s).rowCount == 2)
        #expect(clock.sleeps.count == 1)

        let gone = try scripted([.json("{}", status: 404)])
        defer { gone.stop() }
        let ignored = try await read(source(gone, path: "/r", schema: schema) { $0.onStatus = [404: .ignore] })
        #expect(ignored.rowCount == 0 && ignored.checkpoints.count == 1)
        #expect(ignored.checkpoints[0].complete == false, "an ignored page: the read is not a complete copy")

        let unavailable = try scripted([.json("{}", status: 503)])
        defer { unavailable.stop() }
        await #expect(throws: DponeError.self) {
            try await read(source(unavailable, path: "/r", schema: schema) { $0.onStatus = [503: .fail] })
        }
        #expect(unavailable.requests.count == 1)
    }

    @Test("a slow answer past the timeout is retried; a dropped connection is retried")
    func timeoutAndReset() async throws {
        var slow = Self.ok
        slow.delay = 1.5
        let server = try scripted([slow, .dropped, Self.ok])
        defer { server.stop() }
        let clock = VirtualClock()
        let s = source(server, path: "/r", clock: clock, schema: schema) { $0.timeoutSeconds = 0.3 }
        #expect(try await read(s).rowCount == 2)
        let reasons = s.statistics.retries.map(\.reason)
        #expect(reasons.count == 2)
        #expect(reasons.first == "timeout")
    }

    @Test("token bucket: 3 requests per second spaces a 6-page read")
    func tokenBucket() async throws {
        let server = try fixtureServer(RESTFixtureAPI(records: 60))
        defer { server.stop() }
        let clock = VirtualClock()
        let s = source(server, path: "/page", clock: clock, schema: schema) {
            $0.resource.records = "data"
            $0.resource.paginator = .pageNumber(param: "page", start: 1, totalPagesPath: "total_pages")
            $0.rateLimit = (3, 1)
        }
        #expect(try await read(s).rowCount == 60)
        // 3 tokens at once, then one every 1/3 s (the virtual clock only moves when waiting).
        let waits = await s.rateLimitWaits
        #expect(waits.count == 3)
        for w in waits { #expect(abs(w - 1.0 / 3) < 1e-6) }
    }

    @Test("RateLimit-Remaining: 0 pauses until RateLimit-Reset")
    func rateLimitHeaders() async throws {
        let server = try scripted([
            .json("[{\"id\":1}]", headers: [("RateLimit-Remaining", "0"), ("RateLimit-Reset", "12"), ("Link", "</r?page=2>; rel=\"next\"")]),
            .json("[{\"id\":2}]"),
        ])
        defer { server.stop() }
        let clock = VirtualClock()
        let s = source(server, path: "/r", clock: clock, schema: schema) { $0.resource.paginator = .linkHeader }
        #expect(try await read(s).rowCount == 2)
        #expect(await s.rateLimitWaits == [12])
    }

    @Test("Retry-After parsing: seconds, IMF-fixdate, garbage")
    func retryAfterParsing() {
        #expect(RESTClient.retryAfter("120", now: 0) == 120)
        #expect(RESTClient.retryAfter("Thu, 01 Jan 1970 00:01:40 GMT", now: 40) == 60)
        #expect(RESTClient.retryAfter("soon", now: 0) == nil)
        #expect(RESTClient.retryAfter(nil, now: 0) == nil)
    }
}

/// Every auth kind, OAuth2 expiry mid-run, and secrets kept out of errors.
@Suite("REST auth") struct RESTAuthTests {
    let schema = Schema([Field("id", .int64)])

    func guarded(_ check: @escaping @Sendable (RESTTestRequest) -> Bool) throws -> RESTTestServer {
        try RESTTestServer { request in
            check(request) ? .json("[{\"id\":1}]") : .json("{\"error\":\"unauthorized\"}", status: 401)
        }
    }

    @Test("bearer, basic and api_key (header and query) are sent as configured")
    func staticKinds() async throws {
        let bearer = try guarded { $0.headers["authorization"] == "Bearer tok-123" }
        defer { bearer.stop() }
        #expect(try await read(source(bearer, path: "/a", schema: schema) { $0.auth = .bearer(token: "tok-123") }).rowCount == 1)

        let basic = try guarded { $0.headers["authorization"] == "Basic " + Data("ann:s3cret".utf8).base64EncodedString() }
        defer { basic.stop() }
        #expect(
            try await read(source(basic, path: "/a", schema: schema) { $0.auth = .basic(username: "ann", password: "s3cret") }).rowCount == 1)

        let header = try guarded { $0.headers["x-api-key"] == "k-1" }
        defer { header.stop() }
        #expect(
            try await read(source(header, path: "/a", schema: schema) { $0.auth = .apiKey(name: "X-API-Key", value: "k-1", inQuery: false) })
                .rowCount == 1)

        let query = try guarded { $0.query["api_key"] == "k/2=" }
        defer { query.stop() }
        #expect(
            try await read(source(query, path: "/a?x=1", schema: schema) { $0.auth = .apiKey(name: "api_key", value: "k/2=", inQuery: true) })
                .rowCount == 1)
    }

    @Test("a wrong credential fails with 401 and the hint; the secret appears nowhere in the error")
    func secretsMasked() async throws {
        // A server that echoes the key it got, as some do in their error bodies.
        let server = try RESTTestServer { request in .json("{\"error\":\"bad key \(request.query["key"] ?? "")\"}", status: 401) }
        defer { server.stop() }
        let s = source(server, path: "/a", schema: schema) { $0.auth = .apiKey(name: "key", value: "SUPERSECRET-42", inQuery: true) }
        let error = await #expect(throws: DponeError.self) { try await read(s) }
        let text = "\(error?.message ?? "") \(error?.hint ?? "") \(error?.context ?? [:])"
        #expect(error?.message.contains("HTTP 401") == true)
        #expect(error?.hint?.contains("source.options.auth") == true)
        #expect(!text.contains("SUPERSECRET-42"))
        #expect(text.contains("bad key ***"))
    }

    @Test("OAuth2 client credentials: the token is cached, fetched again when it expires mid-run and after a 401")
    func oauth2() async throws {
        let issued = Mutex(0)
        let revoked = Mutex<Set<String>>([])
        let server = try RESTTestServer { request in
            if request.path == "/token" {
                guard request.bodyText.contains("grant_type=client_credentials"), request.bodyText.contains("client_secret=cs%2B1") else {
                    return .json("{\"error\":\"invalid_client\"}", status: 401)
                }
                let n = issued.withLock { n in
                    n += 1
                    return n
                }
                return .json("{\"access_token\":\"at-\(n)\",\"token_type\":\"bearer\",\"expires_in\":100}")
            }
            let auth = request.headers["authorization"] ?? ""
            // The server revokes token at-2 after its first use.
            if auth == "Bearer at-2" {
                let first = revoked.withLock { $0.insert("at-2").inserted }
                if !first { return .json("{}", status: 401) }
            }
            guard auth.hasPrefix("Bearer at-") else { return .json("{}", status: 401) }
            let page = Int(request.query["page"] ?? "1") ?? 1
            return .json("[{\"id\":\(page)}]", headers: page < 5 ? [("Link", "</data?page=\(page + 1)>; rel=\"next\"")] : [])
        }
        defer { server.stop() }
        let clock = VirtualClock()
        // Each page "takes" 40 s of virtual time: the 100 s token (renewed 10 s early) expires mid-run.
        let s = source(server, path: "/data", clock: clock, schema: schema) {
            $0.auth = .oauth2(tokenURL: server.url + "/token", clientID: "cid", clientSecret: "cs+1", scope: "read")
            $0.resource.paginator = .linkHeader
            $0.rateLimit = (1, 40)
        }
        let out = try await read(s)
        #expect(out.ints("id") == [1, 2, 3, 4, 5])
        let tokens = server.requests.filter { $0.path == "/data" }.map { $0.headers["authorization"] ?? "" }
        // at-1 for pages 1-3 (0, 40, 80 s), at-2 at 120 s (expired), revoked at its second use -> at-3.
        #expect(tokens == ["Bearer at-1", "Bearer at-1", "Bearer at-1", "Bearer at-2", "Bearer at-2", "Bearer at-3"])
        #expect(await s.tokenFetches == 3)
    }

    @Test("credentials in the connection URL are sent (basic) and masked in errors")
    func connectionURLCredentials() async throws {
        let server = try RESTTestServer { request in
            request.headers["authorization"] == "Basic " + Data("u:pw-SECRET".utf8).base64EncodedString()
                ? .json("{\"error\":\"bad\"}", status: 400) : .json("{}", status: 401)
        }
        defer { server.stop() }
        var rest = RESTOptions()
        rest.resource.path = "/x"
        var options = RESTSourceOptions(
            baseURL: server.url.replacingOccurrences(of: "http://", with: "http://u:pw-SECRET@"), rest: rest, schema: schema)
        options.secrets = ["pw-SECRET"]
        let s = RESTSource(name: "rest:/x", options: options, clock: VirtualClock(), random: { 0.5 })
        let error = await #expect(throws: DponeError.self) { try await read(s) }
        #expect(error?.message.contains("HTTP 400") == true, "basic auth from the URL got through: \(error?.message ?? "")")
        #expect(error?.message.contains("pw-SECRET") == false)
        #expect(error?.message.contains("u:***@") == true, "\(error?.message ?? "")")
    }

    @Test("masker hides raw, percent-encoded and base64 forms")
    func masker() {
        let m = RESTMasker(["p@ss word"])
        #expect(m.mask("u=p@ss word&x") == "u=***&x")
        #expect(m.mask("u=p%40ss%20word") == "u=***")
        #expect(m.mask("Basic " + Data("p@ss word".utf8).base64EncodedString()) == "Basic ***")
    }
}

/// Smaller rules of the client and the pager.
@Suite("REST client details") struct RESTClientDetailTests {
    @Test("X-RateLimit-Reset as an epoch time pauses until then (GitHub style)")
    func epochReset() async throws {
        let clock = VirtualClock()
        let limiter = RESTRateLimiter(requests: nil, per: 1, clock: clock)
        let reset = String(Int(clock.now()) + 25)
        await limiter.observe { ["x-ratelimit-remaining": "0", "x-ratelimit-reset": reset][$0] }
        try await limiter.acquire()
        #expect(await limiter.waits.count == 1)
        #expect(abs((await limiter.waits.first ?? 0) - 25) < 1e-6)
        await limiter.observe { ["ratelimit-remaining": "5", "ratelimit-reset": "60"][$0] }
        try await limiter.acquire()
        #expect(await limiter.waits.count == 1, "remaining > 0: no pause")
    }

    @Test("configured headers and params are sent; POST bodies carry Content-Type")
    func headersAndParams() async throws {
        let server = try RESTTestServer { _ in .json("[{\"id\":1}]") }
        defer { server.stop() }
        let s = source(server, path: "/h?fixed=1", schema: Schema([Field("id", .int64)])) {
            $0.headers = [RESTPair("X-Tenant", "acme")]
            $0.resource.params = [RESTPair("status", "open & closed"), RESTPair("fixed", "2")]
        }
        _ = try await read(s)
        let request = try #require(server.requests.first)
        #expect(request.headers["x-tenant"] == "acme")
        #expect(request.headers["accept"] == "application/json")
        #expect(request.query == ["status": "open & closed", "fixed": "2"])
    }

    @Test("children run max_concurrency at a time, and more than one at once")
    func boundedConcurrency() async throws {
        let inFlight = Mutex((now: 0, peak: 0))
        let server = try RESTTestServer { request in
            if request.path == "/orders" { return .json("[" + (1...12).map { "{\"id\":\($0)}" }.joined(separator: ",") + "]") }
            inFlight.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
            usleep(50_000)
            inFlight.withLock { $0.now -= 1 }
            return .json("[{\"sku\":\"x\"}]")
        }
        defer { server.stop() }
        let s = source(server, path: "/orders/{id}/items", schema: Schema([Field("sku", .string)])) {
            var parent = RESTResource()
            parent.path = "/orders"
            $0.parent = RESTParent(resource: parent, fields: [RESTPair("id", "id")])
            $0.maxConcurrency = 3
        }
        #expect(try await read(s).rowCount == 12)
        let peak = inFlight.withLock { $0.peak }
        #expect(peak == 3, "peak concurrent child requests: \(peak)")
    }

    @Test("pager: the loop window forgets tokens older than 4096 pages")
    func loopWindowIsBounded() throws {
        var resource = RESTResource()
        resource.paginator = .cursor(cursorPath: "next", cursorHeader: nil, param: "c", inBody: false)
        var pager = RESTPager(resource: resource, baseURL: "http://x", maxPages: nil, extraParams: [], masker: RESTMasker([]))
        var request = try pager.first()
        for i in 0..<(RESTPager.loopWindow + 10) {
            let response = HTTPExchange.Response(status: 200, body: Array("{\"next\":\"t\(i)\"}".utf8))
            request = try #require(try pager.next(after: request, response: response, records: 1))
        }
        // t0 fell out of the window; t5000 is still in it.
        let old = HTTPExchange.Response(status: 200, body: Array("{\"next\":\"t0\"}".utf8))
        #expect(try pager.next(after: request, response: old, records: 1) != nil)
        let recent = HTTPExchange.Response(status: 200, body: Array("{\"next\":\"t\(RESTPager.loopWindow + 5)\"}".utf8))
        #expect(throws: DponeError.self) { try pager.next(after: request, response: recent, records: 1) }
    }
}

@Suite("REST masking") struct RESTMaskingTests {
    @Test("a secret written into the path's query or a URL's userinfo is masked too")
    func pathSecrets() {
        let m = RESTMasker([])
        #expect(m.mask("GET http://h/items?api_key=abc123&x=1") == "GET http://h/items?api_key=***&x=1")
        #expect(m.mask("GET http://u:pw@h/items") == "GET http://u:***@h/items")
    }
}
