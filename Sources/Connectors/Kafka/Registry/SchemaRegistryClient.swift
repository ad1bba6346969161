import ConnectorKit
import Flow
import Foundation
import KafkaCodecs
import Synchronization

/// A Confluent Schema Registry REST client (the API Confluent Platform, Redpanda, Apicurio's ccompat
/// layer and Karapace serve).
///
/// - Requests run on the client's own `DedicatedThread` through one libcurl handle (kept-alive
///   connection), never on Swift's cooperative pool.
/// - `schema(id:)` results are cached for the client's lifetime (registry ids are immutable), as are
///   the ids `register` and `lookup` return for a (subject, schema) pair.
/// - GETs are retried with exponential backoff on connection errors and 5xx answers; POSTs are not.
/// - Credentials (the URL's userinfo, or `username`/`password`, which win) are sent as HTTP basic
///   auth and never appear in errors or logs: messages show the URL without userinfo.
/// - Errors are `DponeError`s of the kind given at init (`.source` for a reader, `.sink` for a
///   writer), with the registry's `error_code` and `message` from its JSON error body; `context`
///   holds `registry`, `http_status` and `error_code`.
public final class SchemaRegistryClient: Sendable {
    /// The registry URLs without credentials (comma-separated when several).
    public let url: String
    public let timeoutSeconds: Double
    public let maxRetries: Int
    private let endpoint: RegistryEndpoint
    private let errorKind: DponeError.Kind
    private let thread: DedicatedThread
    private let http = HTTPExchange()
    private let authorization: String?

    private struct RegistrationKey: Hashable {
        var subject: String
        var schemaType: SchemaType
        var schema: String
        var references: [SchemaReference]
    }

    private let schemasByID = Mutex<[Int32: RegisteredSchema]>([:])
    private let idsByRegistration = Mutex<[RegistrationKey: Int32]>([:])
    /// The URL that answered last (the first one tried next time).
    private let preferredURL = Atomic<Int>(0)
    private let requests = Atomic<Int>(0)

    static let retryBaseDelay: Duration = .milliseconds(100)
    static let maxRetryDelay: Duration = .seconds(2)
    static let accept =
        "Accept: application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5"
    static let contentType = "Content-Type: application/vnd.schemaregistry.v1+json"

    /// A client for the registry at `url` (`http[s]://[user[:password]@]host:port[/path]`, or several
    /// comma-separated). Throws a `DponeError(errorKind)` for an unusable URL. No request is sent
    /// until the first call.
    ///
    /// - `timeoutSeconds`: bound of one HTTP exchange, connection included.
    /// - `errorKind`: the kind of every error the client throws (`.source` or `.sink`).
    /// - `maxRetries`: extra attempts of a GET after a connection error or a 5xx answer.
    public init(
        url: String, username: String? = nil, password: String? = nil, timeoutSeconds: Double = 30,
        errorKind: DponeError.Kind = .source, maxRetries: Int = 3
    ) throws {
        let endpoint = try RegistryEndpoint(url: url, username: username, password: password, kind: errorKind)
        self.endpoint = endpoint
        self.url = endpoint.display
        self.timeoutSeconds = timeoutSeconds > 0 ? timeoutSeconds : 30
        self.errorKind = errorKind
        self.maxRetries = max(0, maxRetries)
        if let user = endpoint.username {
            let token = Data("\(user):\(endpoint.password ?? "")".utf8).base64EncodedString()
            authorization = "Authorization: Basic \(token)"
        } else {
            authorization = nil
        }
        thread = DedicatedThread(name: "dpone-schema-registry")
    }

    deinit {
        let http = self.http
        thread.submit { http.close() }
        thread.stop()
    }

    /// HTTP requests sent so far, retries included (cache hits send none).
    public var requestCount: Int { requests.load(ordering: .relaxed) }

    // MARK: - Schemas by id

    /// The schema registered under global id `id` (GET /schemas/ids/{id}); cached forever.
    public func schema(id: Int32) async throws -> RegisteredSchema {
        if let cached = schemasByID.withLock({ $0[id] }) { return cached }
        let what = "schema id \(id)"
        let response = try await send(.get, "/schemas/ids/\(id)", what: what)
        guard response.status == 200 else {
            throw error(
                response, what: what,
                hint: response.status == 404
                    ? "the message names a schema id this registry does not have: is it the registry the producer used?"
                    : nil)
        }
        let object = try jsonObject(response.body, what: what)
        let schema = RegisteredSchema(
            id: id, schemaType: try schemaType(object["schemaType"], what: what),
            schema: try string(object["schema"], "schema", what: what),
            references: try references(object["references"], what: what))
        schemasByID.withLock { $0[id] = schema }
        return schema
    }

    // MARK: - Subjects

    /// Registers `schema` under `subject` (POST /subjects/{subject}/versions) and returns its global
    /// id. Registering a schema the subject already has returns its existing id. Cached.
    public func register(
        subject: String, schema: String, schemaType: SchemaType = .avro, references: [SchemaReference] = []
    ) async throws -> Int32 {
        let key = RegistrationKey(subject: subject, schemaType: schemaType, schema: schema, references: references)
        if let id = idsByRegistration.withLock({ $0[key] }) { return id }
        let what = "registering a \(schemaType) schema under subject \(subject)"
        let body = try requestBody(schema: schema, schemaType: schemaType, references: references)
        let response = try await send(
            .post, "/subjects/\(RegistryEndpoint.pathSegment(subject))/versions", body: body, what: what)
        guard response.status == 200 else {
            throw error(response, what: what, hint: registrationHint(response.status, subject: subject))
        }
        let object = try jsonObject(response.body, what: what)
        let id = try int32(object["id"], "id", what: what)
        remember(key, id: id)
        return id
    }

    /// The global id of `schema` under `subject` (POST /subjects/{subject}), or nil when the subject
    /// does not have it (or does not exist). Found ids are cached.
    public func lookup(
        subject: String, schema: String, schemaType: SchemaType = .avro, references: [SchemaReference] = []
    ) async throws -> Int32? {
        let key = RegistrationKey(subject: subject, schemaType: schemaType, schema: schema, references: references)
        if let id = idsByRegistration.withLock({ $0[key] }) { return id }
        let what = "looking up a \(schemaType) schema under subject \(subject)"
        let body = try requestBody(schema: schema, schemaType: schemaType, references: references)
        let response = try await send(.post, "/subjects/\(RegistryEndpoint.pathSegment(subject))", body: body, what: what)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw error(response, what: what) }
        let object = try jsonObject(response.body, what: what)
        let id = try int32(object["id"], "id", what: what)
        remember(key, id: id)
        return id
    }

    /// The latest version registered under `subject` (GET /subjects/{subject}/versions/latest).
    /// Not cached: it changes as schemas evolve.
    public func latest(subject: String) async throws -> (id: Int32, version: Int, schema: RegisteredSchema) {
        try await version(subject: subject, version: nil)
    }

    /// Version `version` of `subject`, or the latest when nil (GET /subjects/{subject}/versions/{v}).
    public func version(subject: String, version: Int?) async throws -> (
        id: Int32, version: Int, schema: RegisteredSchema
    ) {
        let label = version.map { "version \($0)" } ?? "the latest version"
        let what = "\(label) of subject \(subject)"
        let response = try await send(
            .get, "/subjects/\(RegistryEndpoint.pathSegment(subject))/versions/\(version.map(String.init) ?? "latest")",
            what: what)
        guard response.status == 200 else {
            throw error(
                response, what: what,
                hint: response.status == 404 ? "no schema is registered under subject \(subject)" : nil)
        }
        let object = try jsonObject(response.body, what: what)
        let id = try int32(object["id"], "id", what: what)
        let number = try int(object["version"], "version", what: what)
        let schema = RegisteredSchema(
            id: id, schemaType: try schemaType(object["schemaType"], what: what),
            schema: try string(object["schema"], "schema", what: what),
            references: try references(object["references"], what: what))
        schemasByID.withLock { $0[id] = $0[id] ?? schema }
        return (id, number, schema)
    }

    /// Every subject (GET /subjects).
    public func subjects() async throws -> [String] {
        let what = "listing subjects"
        let response = try await send(.get, "/subjects", what: what)
        guard response.status == 200 else { throw error(response, what: what) }
        guard let list = try parseJSON(response.body, what: what) as? [Any] else {
            throw malformed("the answer is not a JSON array", what: what)
        }
        return list.compactMap { $0 as? String }
    }

    /// Deletes `subject` (DELETE /subjects/{subject}, soft unless `permanent`) and returns the
    /// versions it had. Ids stay valid: schemas by id are kept by the registry.
    @discardableResult
    public func deleteSubject(_ subject: String, permanent: Bool = false) async throws -> [Int] {
        let what = "deleting subject \(subject)"
        let path = "/subjects/\(RegistryEndpoint.pathSegment(subject))"
        let response = try await send(.delete, path, what: what)
        guard response.status == 200 else { throw error(response, what: what) }
        var versions = (try parseJSON(response.body, what: what) as? [Any])?.compactMap { asInt($0) } ?? []
        if permanent {
            let hard = try await send(.delete, path + "?permanent=true", what: what)
            guard hard.status == 200 else { throw error(hard, what: what) }
            versions = (try parseJSON(hard.body, what: what) as? [Any])?.compactMap { asInt($0) } ?? versions
        }
        idsByRegistration.withLock { cache in cache = cache.filter { $0.key.subject != subject } }
        return versions
    }

    private func remember(_ key: RegistrationKey, id: Int32) {
        idsByRegistration.withLock { $0[key] = id }
        let schema = RegisteredSchema(id: id, schemaType: key.schemaType, schema: key.schema, references: key.references)
        schemasByID.withLock { $0[id] = $0[id] ?? schema }
    }

    // MARK: - Transport

    /// Sends one request, with retries for GETs; returns any HTTP answer except a 5xx GET that kept
    /// failing, which throws, as does a transport failure.
    private func send(
        _ method: HTTPExchange.Method, _ path: String, body: [UInt8]? = nil, what: String
    ) async throws -> HTTPExchange.Response {
        var lines = [Self.accept]
        if body != nil { lines.append(Self.contentType) }
        if let authorization { lines.append(authorization) }
        let headers = lines
        let bases = endpoint.baseURLs
        let first = preferredURL.load(ordering: .relaxed)
        let retries = method == .get ? maxRetries : 0
        var attempt = 0
        while true {
            try Task.checkCancellation()
            let index = (first + attempt) % bases.count
            let target = bases[index] + path
            let http = self.http
            let timeout = timeoutSeconds
            let cancel = HTTPCancel()
            requests.add(1, ordering: .relaxed)
            let result: Result<HTTPExchange.Response, HTTPExchange.TransportFailure> =
                try await withTaskCancellationHandler {
                    try await thread.run {
                        do throws(HTTPExchange.TransportFailure) {
                            return .success(
                                try http.perform(
                                    method, url: target, headers: headers, body: body, timeoutSeconds: timeout,
                                    cancel: cancel))
                        } catch {
                            return .failure(error)
                        }
                    }
                } onCancel: {
                    cancel.cancel()
                }
            switch result {
            case .success(let response) where response.status >= 500 && attempt < retries:
                break  // retry below
            case .success(let response):
                preferredURL.store(index, ordering: .relaxed)
                return response
            case .failure(let failure) where failure.cancelled:
                throw DponeError(.cancelled, "schema registry request (\(what)) was cancelled")
            case .failure where attempt < retries:
                break
            case .failure(let failure):
                throw DponeError(
                    errorKind,
                    "schema registry \(bases[index]) is unreachable while \(what): \(endpoint.scrub(failure.message))",
                    hint: "check the registry URL and that the registry runs"
                        + (attempt > 0 ? " (tried \(attempt + 1) times)" : ""),
                    context: ["registry": endpoint.display, DponeError.unavailableKey: "true"])
            }
            attempt += 1
            try await Task.sleep(for: Self.backoff(attempt: attempt))
        }
    }

    /// Exponential backoff with jitter: ~100 ms, 200 ms, 400 ms... capped at 2 s.
    static func backoff(attempt: Int) -> Duration {
        let exponential = retryBaseDelay * (1 << min(attempt - 1, 10))
        let capped = min(exponential, maxRetryDelay)
        return capped * Double.random(in: 0.75...1.25)
    }

    // MARK: - Errors

    /// The `DponeError` for a non-success answer: the registry's `error_code` and `message`.
    private func error(_ response: HTTPExchange.Response, what: String, hint: String? = nil) -> DponeError {
        var code: Int?
        var message: String?
        if let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] {
            code = asInt(object["error_code"])
            message = object["message"] as? String
        }
        if message == nil {
            let text = String(decoding: response.body.prefix(300), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            message = text.isEmpty ? "no error message" : text
        }
        var context = ["registry": endpoint.display, "http_status": String(response.status)]
        if let code { context["error_code"] = String(code) }
        // A registry overloaded or failing (after the retries) is away, not an answer about the schema.
        if response.status >= 500 || response.status == 429 { context[DponeError.unavailableKey] = "true" }
        var hint = hint
        switch response.status {
        case 401:
            hint = hint ?? (endpoint.username == nil
                ? "the registry requires credentials: set username and password (or user:password@ in the URL)"
                : "the registry rejected the credentials of user \(endpoint.username ?? "")")
        case 403:
            hint = hint ?? "the registry user lacks permission for this operation"
        default:
            break
        }
        let codeText = code.map { ", error_code \($0)" } ?? ""
        return DponeError(
            errorKind,
            "schema registry \(what) failed: \(endpoint.scrub(message ?? "")) (HTTP \(response.status)\(codeText))",
            hint: hint, context: context)
    }

    private func registrationHint(_ status: Int, subject: String) -> String? {
        switch status {
        case 409:
            "the schema is incompatible with the versions already under subject \(subject) (see the subject's compatibility level)"
        case 422:
            "the registry rejected the schema text or its references as invalid"
        default:
            nil
        }
    }

    private func malformed(_ why: String, what: String) -> DponeError {
        DponeError(
            errorKind, "schema registry \(what): unexpected answer: \(why)", context: ["registry": endpoint.display])
    }

    // MARK: - JSON (small REST bodies only, never the data path)

    private func requestBody(schema: String, schemaType: SchemaType, references: [SchemaReference]) throws -> [UInt8] {
        var object: [String: Any] = ["schema": schema]
        if schemaType != .avro { object["schemaType"] = schemaType.rawValue }
        if !references.isEmpty {
            object["references"] = references.map { ["name": $0.name, "subject": $0.subject, "version": $0.version] }
        }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    private func parseJSON(_ body: [UInt8], what: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw malformed("not JSON", what: what)
        }
    }

    private func jsonObject(_ body: [UInt8], what: String) throws -> [String: Any] {
        guard let object = try parseJSON(body, what: what) as? [String: Any] else {
            throw malformed("not a JSON object", what: what)
        }
        return object
    }

    private func string(_ value: Any?, _ field: String, what: String) throws -> String {
        guard let text = value as? String else { throw malformed("no string field \"\(field)\"", what: what) }
        return text
    }

    private func int(_ value: Any?, _ field: String, what: String) throws -> Int {
        guard let number = asInt(value) else { throw malformed("no integer field \"\(field)\"", what: what) }
        return number
    }

    private func int32(_ value: Any?, _ field: String, what: String) throws -> Int32 {
        let number = try int(value, field, what: what)
        guard let id = Int32(exactly: number) else { throw malformed("\"\(field)\" \(number) is out of range", what: what) }
        return id
    }

    private func schemaType(_ value: Any?, what: String) throws -> SchemaType {
        guard let value, !(value is NSNull) else { return .avro }
        guard let name = value as? String, let type = SchemaType(registryName: name) else {
            throw malformed("unknown schemaType \(value)", what: what)
        }
        return type
    }

    private func references(_ value: Any?, what: String) throws -> [SchemaReference] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any] else { throw malformed("\"references\" is not an array", what: what) }
        return try list.map { item in
            guard let object = item as? [String: Any] else {
                throw malformed("a reference is not an object", what: what)
            }
            return SchemaReference(
                name: try string(object["name"], "references.name", what: what),
                subject: try string(object["subject"], "references.subject", what: what),
                version: try int(object["version"], "references.version", what: what))
        }
    }
}

/// An integer from a JSONSerialization value (Int, or NSNumber holding a whole number).
private func asInt(_ value: Any?) -> Int? {
    switch value {
    case let number as Int: return number
    case let number as NSNumber:
        let double = number.doubleValue
        return double == double.rounded() && abs(double) < 9e15 ? Int(double) : nil
    default: return nil
    }
}
