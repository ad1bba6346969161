import ConnectorKit
import Flow
import Foundation
import Logging
import Synchronization

/// A BigQuery REST client (API v2): queries and scripts, tables, datasets, and load jobs fed by
/// resumable uploads.
///
/// - Every request runs on the client's own `DedicatedThread` through one libcurl handle (kept-alive
///   connection), never on Swift's cooperative pool.
/// - `BIGQUERY_EMULATOR_HOST` (`host:port`) points it at an emulator over plain HTTP, as Google's
///   clients do; otherwise `https://bigquery.googleapis.com`.
/// - Access tokens (`BigQueryCredentials`) are fetched on first use and cached until a minute before
///   they expire. They travel in a header only: no error, log line or artifact holds one.
/// - Transient failures (connection errors, 429, 5xx) are retried with exponential backoff up to
///   `maxRetries` times. Queries carry a `requestId`, which makes their retry idempotent.
/// - Errors are `DponeError(.sink)` with BigQuery's own reason and message (a failed job's
///   `errors[]` included); `context` holds `http_status` and `job` where known.
public final class BigQueryClient: Sendable {
    public let project: String
    public let location: String?
    /// `http://host:port` of an emulator, or Google's endpoint.
    public let baseURL: String
    public let credentials: BigQueryCredentials
    public let maxRetries: Int
    /// Bound of one HTTP exchange; a load chunk or a query poll never takes longer.
    public let timeoutSeconds: Double
    /// Bound of a whole job (a load, a publish script) before the run gives up on it.
    public let jobTimeoutSeconds: Double = 6 * 3600
    private let thread = DedicatedThread(name: "dpone-bigquery")
    private let http = HTTPExchange()
    private let token = Mutex<AccessToken?>(nil)
    private let requests = Atomic<Int>(0)
    let logger = Logger(label: "dpone.bigquery")

    public static let googleEndpoint = "https://bigquery.googleapis.com"

    public init(
        project: String, location: String? = nil, credentials: BigQueryCredentials, emulatorHost: String? = nil,
        maxRetries: Int = 4, timeoutSeconds: Double = 300
    ) {
        self.project = project
        self.location = location
        self.credentials = credentials
        self.maxRetries = max(0, maxRetries)
        self.timeoutSeconds = timeoutSeconds
        if let host = emulatorHost, !host.isEmpty {
            baseURL = host.contains("://") ? host : "http://\(host)"
        } else {
            baseURL = Self.googleEndpoint
        }
    }

    deinit {
        let http = self.http
        thread.submit { http.close() }
        thread.stop()
    }

    /// Whether the client talks to an emulator.
    public var isEmulator: Bool { baseURL != Self.googleEndpoint }

    /// HTTP requests sent so far, retries and token requests included.
    public var requestCount: Int { requests.load(ordering: .relaxed) }

    private var projectPath: String { "/bigquery/v2/projects/\(Self.segment(project))" }

    // MARK: - Queries

    /// What a query or script returned: the last statement's rows (values as BigQuery's JSON text)
    /// and, for DML, the rows it affected.
    public struct QueryResult: Sendable {
        public var rows: [[String?]]
        public var affectedRows: Int?
        public var jobID: String?

        /// The first column of the first row as an integer (a `SELECT COUNT(*)`); 0 when empty.
        public var count: Int { rows.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0 }
    }

    /// Runs `sql` (GoogleSQL; a multi-statement script too) to completion. `submitted` runs once
    /// BigQuery accepted the job, before its result is awaited (a fault point: the job completes on
    /// the server whatever happens to this process).
    @discardableResult
    public func query(_ sql: String, what: String = "a query", submitted: (@Sendable () -> Void)? = nil) async throws -> QueryResult {
        var request: [String: Any] = [
            "query": sql, "useLegacySql": false, "timeoutMs": 10_000, "requestId": UUID().uuidString.lowercased(),
        ]
        if let location { request["location"] = location }
        var object = try await json(.post, projectPath + "/queries", body: request, what: what, retryPost: true)
        submitted?()
        try Self.throwIfFailed(object, what: what, emulator: isEmulator)
        var jobID = (object["jobReference"] as? [String: Any])?["jobId"] as? String
        let jobLocation = (object["jobReference"] as? [String: Any])?["location"] as? String ?? location
        while (object["jobComplete"] as? Bool) == false {
            guard let id = jobID else { throw DponeError(.sink, "BigQuery answered \(what) without a job reference") }
            var path = projectPath + "/queries/\(Self.segment(id))?timeoutMs=10000"
            if let jobLocation { path += "&location=\(Self.segment(jobLocation))" }
            object = try await json(.get, path, what: what)
            try Self.throwIfFailed(object, what: what, job: id, emulator: isEmulator)
            jobID = (object["jobReference"] as? [String: Any])?["jobId"] as? String ?? id
        }
        func rows(of object: [String: Any]) -> [[String?]] {
            (object["rows"] as? [[String: Any]] ?? []).map { row in
                (row["f"] as? [[String: Any]] ?? []).map { cell -> String? in
                    switch cell["v"] {
                    case let text as String: text
                    case let number as NSNumber: number.stringValue
                    case nil, is NSNull: nil
                    case let other?: String(describing: other)
                    }
                }
            }
        }
        var all = rows(of: object)
        let affected = (object["numDmlAffectedRows"] as? String).flatMap { Int($0) }
        // A result larger than one response (BigQuery pages at 10 MB, the emulator at 10,000 rows)
        // continues at its pageToken: stopping at the first page would return a prefix as if whole.
        var token = object["pageToken"] as? String
        while let page = token, !page.isEmpty {
            guard let id = jobID else { throw DponeError(.sink, "BigQuery paged \(what) without a job reference") }
            var path = projectPath + "/queries/\(Self.segment(id))?pageToken=\(Self.segment(page))"
            if let jobLocation { path += "&location=\(Self.segment(jobLocation))" }
            let next = try await json(.get, path, what: what)
            try Self.throwIfFailed(next, what: what, job: id, emulator: isEmulator)
            token = next["pageToken"] as? String
            guard token != page else {
                // The same page again would loop for ever (and read its rows twice): fail instead.
                throw DponeError(.sink, "BigQuery answered \(what) with the same page token twice", context: ["job": id])
            }
            all += rows(of: next)
        }
        return QueryResult(rows: all, affectedRows: affected, jobID: jobID)
    }

    // MARK: - Datasets and tables

    /// Creates `dataset` when missing (in `location` when given).
    public func ensureDataset(_ dataset: String) async throws {
        let what = "dataset \(dataset)"
        let get = try await send(.get, projectPath + "/datasets/\(Self.segment(dataset))", what: what)
        if get.status == 200 { return }
        guard get.status == 404 else { throw Self.error(get, what: what) }
        var body: [String: Any] = ["datasetReference": ["projectId": project, "datasetId": dataset]]
        if let location { body["location"] = location }
        let created = try await send(.post, projectPath + "/datasets", body: try Self.encode(body), what: "creating \(what)")
        guard created.status == 200 || created.status == 409 else { throw Self.error(created, what: "creating \(what)") }
    }

    /// The columns of `table` as the tables API reports them (`name`, `type`), nil when it does
    /// not exist.
    public func columns(of table: BigQueryTable) async throws -> [(name: String, type: String)]? {
        let what = "table \(table)"
        let response = try await send(
            .get, "/bigquery/v2/projects/\(Self.segment(table.project))/datasets/\(Self.segment(table.dataset))/tables/\(Self.segment(table.name))",
            what: what)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw Self.error(response, what: what) }
        let object = try Self.decode(response.body, what: what)
        let fields = ((object["schema"] as? [String: Any])?["fields"] as? [[String: Any]]) ?? []
        return fields.compactMap { field in
            guard let name = field["name"] as? String, let type = field["type"] as? String else { return nil }
            return (name, type)
        }
    }

    // MARK: - Load jobs

    /// Opens a resumable upload for the load job `job` (a job resource: `configuration.load`, and
    /// `jobReference`); returns the session URL the chunks go to.
    public func startLoad(_ job: [UInt8], what: String) async throws -> String {
        let path = "/upload/bigquery/v2/projects/\(Self.segment(project))/jobs?uploadType=resumable"
        let response = try await send(
            .post, path, body: job, extraHeaders: ["X-Upload-Content-Type: application/octet-stream"], what: what,
            retryPost: true)
        guard response.status == 200 || response.status == 201, let session = response.header("location") else {
            throw Self.error(response, what: what)
        }
        return session
    }

    /// Sends `chunk`, the bytes at `offset` of the upload. Every chunk but the last is a multiple of
    /// 256 KiB; the last gives the `total` size. Returns the load job's id once the last chunk is in.
    /// What one chunk's upload answered: how many bytes of the upload BigQuery holds (a 308's
    /// `Range`; it may be fewer than were sent, and the rest must be sent again), or, after the
    /// last chunk, the load job it started.
    public enum UploadProgress: Sendable, Equatable {
        case persisted(Int)
        case started(job: String, location: String?)
    }

    public func uploadChunk(_ session: String, _ chunk: [UInt8], offset: Int, total: Int?, what: String) async throws -> UploadProgress {
        let range: String
        if chunk.isEmpty, let total {
            range = "bytes */\(total)"
        } else {
            range = "bytes \(offset)-\(offset + chunk.count - 1)/\(total.map(String.init) ?? "*")"
        }
        let response = try await send(
            .put, session, body: chunk, extraHeaders: ["Content-Range: \(range)", "Content-Type: application/octet-stream"],
            what: what, absolute: true, retryPost: true)
        if response.status == 308 {
            // `Range: bytes=0-K`: the first K+1 bytes are persisted (no header: none are).
            let persisted = response.header("range").flatMap { $0.split(separator: "-").last.flatMap { Int($0) } }.map { $0 + 1 } ?? 0
            return .persisted(persisted)
        }
        guard response.status == 200 || response.status == 201 else { throw Self.error(response, what: what) }
        let object = try Self.decode(response.body, what: what)
        let reference = object["jobReference"] as? [String: Any]
        guard let id = reference?["jobId"] as? String else {
            throw DponeError(.sink, "BigQuery answered the upload of \(what) without a job id")
        }
        try Self.throwIfFailed(object, what: what, job: id, emulator: isEmulator)
        return .started(job: id, location: reference?["location"] as? String ?? location)
    }

    /// Polls job `id` (in `location`: where BigQuery ran it) until it is DONE, at most
    /// `jobTimeoutSeconds`; throws its `errors[]` when it failed. Returns the rows a load job
    /// reports (`statistics.load.outputRows`), nil for other jobs.
    @discardableResult
    public func waitForJob(_ id: String, location jobLocation: String? = nil, what: String) async throws -> Int? {
        var delay = Duration.milliseconds(100)
        let deadline = ContinuousClock.now + .seconds(jobTimeoutSeconds)
        while true {
            var path = projectPath + "/jobs/\(Self.segment(id))"
            if let place = jobLocation ?? location { path += "?location=\(Self.segment(place))" }
            let object = try await json(.get, path, what: what)
            try Self.throwIfFailed(object, what: what, job: id, emulator: isEmulator)
            guard ContinuousClock.now < deadline else {
                throw DponeError(.sink, "\(what) (job \(id)) did not finish in \(Int(jobTimeoutSeconds)) s", hint: "see the job in the BigQuery console", context: ["job": id])
            }
            if ((object["status"] as? [String: Any])?["state"] as? String) == "DONE" {
                let load = (object["statistics"] as? [String: Any])?["load"] as? [String: Any]
                return (load?["outputRows"] as? String).flatMap { Int($0) } ?? (load?["outputRows"] as? NSNumber)?.intValue
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(2))
        }
    }

    // MARK: - Transport

    private func json(
        _ method: HTTPExchange.Method, _ path: String, body: [String: Any]? = nil, what: String, retryPost: Bool = false
    ) async throws -> [String: Any] {
        let response = try await send(method, path, body: try body.map(Self.encode), what: what, retryPost: retryPost)
        guard (200..<300).contains(response.status) else { throw Self.error(response, what: what) }
        return try Self.decode(response.body, what: what)
    }

    /// One request with the access token, retried when transient (GETs always; other methods when
    /// `retryPost`, i.e. made idempotent by a request id or by the upload protocol).
    func send(
        _ method: HTTPExchange.Method, _ path: String, body: [UInt8]? = nil, extraHeaders: [String] = [], what: String,
        absolute: Bool = false, retryPost: Bool = false
    ) async throws -> HTTPExchange.Response {
        let url = absolute ? path : baseURL + path
        let retries = method == .get || retryPost ? maxRetries : 0
        var attempt = 0
        var refreshed = false
        // The token goes only to BigQuery's own host (a resumable session URL comes from an answer).
        let sendsToken = !absolute || Self.host(of: path) == Self.host(of: baseURL)
        while true {
            try Task.checkCancellation()
            var headers = ["Accept: application/json"] + extraHeaders
            if body != nil, !extraHeaders.contains(where: { $0.hasPrefix("Content-Type:") }) {
                headers.append("Content-Type: application/json; charset=utf-8")
            }
            let bearer = sendsToken ? try await accessToken() : nil
            if let bearer { headers.append("Authorization: Bearer \(bearer)") }
            let outcome = try await perform(method, url: url, headers: headers, body: body)
            attempt += 1
            switch outcome {
            case .success(let response):
                let transient = response.status == 429 || (500...599).contains(response.status) || Self.isRateLimit(response)
                if response.status == 401, !refreshed, bearer != nil {
                    // Expired early or revoked: a 401 ran nothing, so one retry with a new token is safe.
                    refreshed = true
                    token.withLock { $0 = nil }
                    continue
                }
                if !transient || attempt > retries { return response }
                logger.warning(
                    "BigQuery answered \(response.status); retrying", metadata: ["what": "\(what)", "attempt": "\(attempt)"])
            case .failure(let failure):
                if failure.cancelled { throw CancellationError() }
                guard attempt <= retries, failure.kind == .connection || failure.kind == .timeout else {
                    throw DponeError(
                        .sink, "BigQuery request for \(what) failed: \(Redaction.scrub(failure.message))",
                        hint: isEmulator ? "is the emulator running at \(baseURL)?" : nil, context: ["endpoint": baseURL])
                }
                logger.warning(
                    "BigQuery request failed; retrying",
                    metadata: ["what": "\(what)", "attempt": "\(attempt)", "error": "\(Redaction.scrub(failure.message))"])
            }
            try await Task.sleep(for: .milliseconds(250 * (1 << min(attempt, 5))))
        }
    }

    private func perform(
        _ method: HTTPExchange.Method, url: String, headers: [String], body: [UInt8]?
    ) async throws -> Result<HTTPExchange.Response, HTTPExchange.TransportFailure> {
        requests.add(1, ordering: .relaxed)
        let http = self.http
        let timeout = timeoutSeconds
        let cancel = HTTPCancel()
        return try await withTaskCancellationHandler {
            try await thread.run {
                do throws(HTTPExchange.TransportFailure) {
                    return .success(try http.perform(method, url: url, headers: headers, body: body, timeoutSeconds: timeout, cancel: cancel))
                } catch {
                    return .failure(error)
                }
            }
        } onCancel: {
            cancel.cancel()
        }
    }

    /// The bearer token for the next request (nil against an emulator without credentials).
    func accessToken() async throws -> String? {
        let now = Date()
        if let cached = token.withLock({ $0 }), cached.fresh(at: now) { return cached.value }
        let fetched: AccessToken
        switch credentials {
        case .none:
            return nil
        case .serviceAccount(let key):
            let assertion = try key.assertion(now: now)
            let form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)"
            let response = try await tokenRequest(
                .post, url: key.tokenURI, headers: ["Content-Type: application/x-www-form-urlencoded"], body: Array(form.utf8),
                what: "an access token for \(key.clientEmail)")
            guard let parsed = AccessToken.parse(response, now: now) else {
                throw credentialError("the token endpoint \(key.tokenURI) answered without an access_token")
            }
            fetched = parsed
        case .metadataServer(let host):
            let url = "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token"
            let response = try await tokenRequest(
                .get, url: url, headers: ["Metadata-Flavor: Google"], body: nil, what: "an access token from the metadata server \(host)")
            guard let parsed = AccessToken.parse(response, now: now) else {
                throw credentialError("the metadata server \(host) answered without an access_token")
            }
            fetched = parsed
        }
        token.withLock { $0 = fetched }
        return fetched.value
    }

    private func tokenRequest(_ method: HTTPExchange.Method, url: String, headers: [String], body: [UInt8]?, what: String) async throws
        -> [UInt8]
    {
        var attempt = 0
        while true {
            attempt += 1
            switch try await perform(method, url: url, headers: ["Accept: application/json"] + headers, body: body) {
            case .success(let response) where response.status == 200:
                return response.body
            case .success(let response):
                let transient = response.status == 429 || (500...599).contains(response.status)
                if !transient || attempt > maxRetries {
                    // Only the grant error's code and description: nothing else of the answer is echoed.
                    let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                    let detail = [object?["error"] as? String, object?["error_description"] as? String].compactMap { $0 }
                        .joined(separator: ": ").prefix(300)
                    throw credentialError(
                        "requesting \(what) failed with HTTP \(response.status): \(detail)",
                        hint: "check the service account, its key and its roles (BigQuery Data Editor and Job User)")
                }
            case .failure(let failure):
                if failure.cancelled { throw CancellationError() }
                if attempt > maxRetries {
                    throw DponeError(.sink, "requesting \(what) failed: \(Redaction.scrub(failure.message))")
                }
            }
            try await Task.sleep(for: .milliseconds(250 * (1 << min(attempt, 5))))
        }
    }

    // MARK: - JSON and errors

    /// A 403 whose reason is a rate or quota limit BigQuery lifts by itself (`rateLimitExceeded`):
    /// retried like a 429.
    static func isRateLimit(_ response: HTTPExchange.Response) -> Bool {
        guard response.status == 403, let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let error = object["error"] as? [String: Any]
        else { return false }
        let reasons = (error["errors"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
        return reasons.contains { $0 == "rateLimitExceeded" || $0 == "backendError" }
    }

    /// `scheme://host:port` of a URL.
    static func host(of url: String) -> String? {
        guard let components = URLComponents(string: url), let host = components.host else { return nil }
        return "\(components.scheme ?? "")://\(host):\(components.port ?? -1)"
    }

    static func encode(_ object: [String: Any]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    static func decode(_ body: [UInt8], what: String) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw DponeError(.sink, "BigQuery answered \(what) with something that is not a JSON object")
        }
        return object
    }

    /// Throws when a query answer or a job carries errors: the job's `status.errorResult` with
    /// `status.errors[]`, or, from the emulator, `errors` at the top of a query answer (BigQuery
    /// reports failed queries by HTTP status; its top-level `errors` may be warnings of a job
    /// that goes on).
    static func throwIfFailed(_ object: [String: Any], what: String, job: String? = nil, emulator: Bool = true) throws {
        let status = object["status"] as? [String: Any]
        if let errorResult = status?["errorResult"] as? [String: Any] {
            let all = status?["errors"] as? [[String: Any]] ?? [errorResult]
            throw failure(all, what: what, job: job)
        }
        if emulator, let errors = object["errors"] as? [[String: Any]], !errors.isEmpty, status == nil {
            throw failure(errors, what: what, job: job ?? (object["jobReference"] as? [String: Any])?["jobId"] as? String)
        }
    }

    private static func failure(_ errors: [[String: Any]], what: String, job: String?) -> DponeError {
        let lines = errors.prefix(5).map { error -> String in
            let reason = error["reason"] as? String ?? "error"
            let message = error["message"] as? String ?? "(no message)"
            let location = (error["location"] as? String).map { " at \($0)" } ?? ""
            return "\(reason)\(location): \(message)"
        }
        let more = errors.count > 5 ? " (and \(errors.count - 5) more)" : ""
        let permanent = errors.contains { ["invalid", "invalidQuery", "notFound", "duplicate", "accessDenied"].contains($0["reason"] as? String ?? "") }
        var context: [String: String] = [:]
        if let job { context["job"] = job }
        if permanent { context[DponeError.permanentKey] = "true" }
        return DponeError(.sink, "BigQuery failed \(what): " + lines.joined(separator: "; ") + more, context: context)
    }

    /// An HTTP error answer: BigQuery's `error.message` and `error.errors[]` when present.
    static func error(_ response: HTTPExchange.Response, what: String) -> DponeError {
        var context = ["http_status": "\(response.status)"]
        if response.status >= 400, response.status < 500, response.status != 408, response.status != 429, !isRateLimit(response) {
            context[DponeError.permanentKey] = "true"
        }
        if let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let error = object["error"] as? [String: Any]
        {
            let message = error["message"] as? String ?? "(no message)"
            let reasons = (error["errors"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
            return DponeError(
                .sink, "BigQuery refused \(what) (HTTP \(response.status)\(reasons.isEmpty ? "" : ", \(reasons.joined(separator: ", "))")): \(message)",
                hint: response.status == 403 ? "the credentials lack a role on the project or dataset (BigQuery Data Editor and Job User)" : nil,
                context: context)
        }
        let text = String(decoding: response.body.prefix(300), as: UTF8.self)
        return DponeError(.sink, "BigQuery refused \(what) (HTTP \(response.status)): \(text)", context: context)
    }

    /// A path segment, percent-encoded.
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
