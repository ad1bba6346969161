import CCurl
import Flow
import Foundation
import Logging

/// One request as the transport sends it.
struct ClickHouseRequest: Sendable {
    enum Body: Sendable {
        /// The statement travels as the POST body.
        case sql
        /// The statement travels in the `query` URL parameter; the body is pulled from the producer.
        case stream(@Sendable (UnsafeMutableRawBufferPointer) throws -> Int)
        /// GET of a path (`ping`), no statement.
        case get(path: String)
    }

    var sql: String
    var body: Body
    var settings: [String: String]
    var idempotent: Bool
}

let clickHouseLogger = Logger(label: "dpone.clickhouse")

extension ClickHouseClient {
    /// Sends `request`, retrying it (when it is idempotent, the error retryable and no response byte
    /// has reached `onData`) up to `configuration.maxRetries` times with backoff.
    func send(
        _ request: ClickHouseRequest, internalRequest: Bool = false,
        onData: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
    ) async throws -> ClickHouseResponseInfo {
        var attempt = 0
        while true {
            do {
                return try await sendOnce(request, internalRequest: internalRequest, onData: onData)
            } catch var error as ClickHouseError {
                guard request.idempotent, error.isRetryable, attempt < configuration.maxRetries else {
                    error.attempts = attempt + 1
                    throw error
                }
                attempt += 1
                let delay = configuration.retryDelay(attempt: attempt)
                clickHouseLogger.warning(
                    "retrying idempotent ClickHouse request (\(attempt)/\(configuration.maxRetries)) in \(delay): \(error.message) [server \(endpoint.redacted)]"
                )
                try await Task.sleep(for: delay)
            }
        }
    }

    private func sendOnce(
        _ request: ClickHouseRequest, internalRequest: Bool,
        onData: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
    ) async throws -> ClickHouseResponseInfo {
        try checkUsable(internalRequest: internalRequest, sql: request.sql)
        let queryID = UUID().uuidString.lowercased()
        let url = requestURL(request, queryID: queryID)
        let headers = authHeaders()
        let control = TransferControl()
        let connection = self.connection
        let configuration = self.configuration
        let endpoint = self.endpoint
        clickHouseLogger.debug(
            "request query_id=\(queryID) server=\(endpoint.redacted) sql=\(ClickHouseError.abbreviate(request.sql))")
        return try await withTaskCancellationHandler {
            try Task.checkCancellation()
            return try await thread.run {
                var producer: (@Sendable (UnsafeMutableRawBufferPointer) throws -> Int)?
                var body = CurlConnection.Body.bytes(Array(request.sql.utf8))
                var get = false
                switch request.body {
                case .sql: break
                case .stream(let p):
                    producer = p
                    body = .stream
                case .get:
                    body = .none
                    get = true
                }
                let context = TransferContext(
                    control: control, readTimeout: configuration.readTimeout, readBody: producer, onData: onData)
                let outcome = try connection.perform(
                    url: url, get: get, headers: headers, body: body, context: context, configuration: configuration)
                do {
                    return try Self.interpret(
                        outcome, context, request: request, queryID: queryID, endpoint: endpoint,
                        configuration: configuration)
                } catch var error as ClickHouseError {
                    error.queryID = queryID
                    throw error
                }
            }
        } onCancel: {
            control.cancel()
        }
    }

    /// The URL of `request`: base URL (no credentials) with database, settings and `query_id`.
    func requestURL(_ request: ClickHouseRequest, queryID: String) -> String {
        if case .get(let path) = request.body {
            return endpoint.baseURL + (endpoint.baseURL.hasSuffix("/") ? "" : "/") + path
        }
        var params: [(String, String)] = []
        if let database = configuration.database ?? endpoint.database { params.append(("database", database)) }
        params.append(("query_id", queryID))
        var settings = endpoint.settings
        settings.merge(configuration.settings) { $1 }
        settings.merge(request.settings) { $1 }
        for key in settings.keys.sorted() { params.append((key, settings[key]!)) }
        if case .stream = request.body { params.append(("query", request.sql)) }
        let query = params.map { "\(ClickHouseEndpoint.percentEncode($0.0))=\(ClickHouseEndpoint.percentEncode($0.1))" }
        return endpoint.baseURL + "?" + query.joined(separator: "&")
    }

    /// `X-ClickHouse-User` / `X-ClickHouse-Key` lines (none for the default user without password).
    func authHeaders() -> [String] {
        var lines: [String] = []
        if let user = endpoint.user { lines.append("X-ClickHouse-User: \(user)") }
        if let password = endpoint.password { lines.append("X-ClickHouse-Key: \(password)") }
        return lines
    }

    /// Turns libcurl's outcome and the collected response into a result or a `ClickHouseError`.
    static func interpret(
        _ outcome: CurlConnection.Outcome, _ context: TransferContext, request: ClickHouseRequest, queryID: String,
        endpoint: ClickHouseEndpoint, configuration: ClickHouseConfiguration
    ) throws -> ClickHouseResponseInfo {
        let sql: String? = request.sql.isEmpty ? nil : request.sql
        let status = context.status
        switch context.abortReason {
        case .cancelled?:
            throw ClickHouseError(
                kind: .cancelled, message: "the request was cancelled", sql: sql, server: endpoint.redacted)
        case .readTimeout?:
            let seconds = configuration.readTimeout.map { "\($0)" } ?? "?"
            throw ClickHouseError(
                kind: .timeout, message: "no data from ClickHouse at \(endpoint.server) for \(seconds) (read timeout)",
                httpStatus: status == 0 ? nil : status, sql: sql, server: endpoint.redacted,
                hint: "a long query needs a larger readTimeout")
        case nil: break
        }
        if status != 0 && status != 200 {
            // Also when the transfer failed afterwards: the server's exception says why.
            let headerCode = context.headers["x-clickhouse-exception-code"].flatMap { Int($0) }
            throw ClickHouseError.fromResponse(
                status: status, body: String(decoding: context.errorBody, as: UTF8.self), headerCode: headerCode,
                sql: sql, endpoint: endpoint)
        }
        if status == 200, let text = ClickHouseExceptionText.trailingException(in: context.tail) {
            // The query failed after the server had sent a 200 and some data.
            var error = ClickHouseError.fromResponse(
                status: 200, body: endpoint.scrub(text), headerCode: nil, sql: sql, endpoint: endpoint)
            error.isRetryable = false
            error.message += " (reported after \(context.deliveredBytes) bytes of the response)"
            throw error
        }
        if let callbackError = context.callbackError { throw callbackError }
        if outcome.code != CURLE_OK {
            throw transportError(outcome, context, sql: sql, endpoint: endpoint)
        }
        return ClickHouseResponseInfo(
            queryID: queryID, httpStatus: status, headers: context.headers, bytesReceived: context.deliveredBytes,
            bytesSent: context.uploadedBytes)
    }

    static func transportError(
        _ outcome: CurlConnection.Outcome, _ context: TransferContext, sql: String?, endpoint: ClickHouseEndpoint
    ) -> ClickHouseError {
        let code = outcome.code
        let text = endpoint.scrub(outcome.curlMessage)
        let nothingReceived = context.status == 0 && context.deliveredBytes == 0
        let connectPhase: Set<CURLcode> = [
            CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY,
        ]
        let dropped: Set<CURLcode> = [
            CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_SSL_CONNECT_ERROR,
        ]
        let kind: ClickHouseError.Kind
        var message: String
        var hint: String?
        var retryable = false
        if connectPhase.contains(code) {
            kind = .connection
            message = "cannot reach ClickHouse at \(endpoint.server): \(text)"
            hint = "is a ClickHouse server running at \(endpoint.server)? (locally: scripts/clickhouse.sh start)"
            retryable = true
        } else if code == CURLE_OPERATION_TIMEDOUT {
            kind = .timeout
            message = "timed out talking to ClickHouse at \(endpoint.server): \(text)"
            hint = nothingReceived ? "is the server reachable? (connectTimeout changes the wait)" : nil
            retryable = nothingReceived
        } else if dropped.contains(code) {
            kind = .connection
            message = "the connection to ClickHouse at \(endpoint.server) failed: \(text)"
            if code == CURLE_SEND_ERROR && context.uploadedBytes > 0 {
                // The server closed the connection while the body was streaming in; its answer
                // (usually an exception about the data) was lost with the connection.
                message += " after \(context.uploadedBytes) bytes of the request body"
                hint = "the server may have rejected the data; look for the query_id in its log or system.query_log"
            }
            retryable = context.deliveredBytes == 0
        } else {
            kind = .connection
            message = "request to ClickHouse at \(endpoint.server) failed: \(text)"
        }
        return ClickHouseError(
            kind: kind, message: message, curlCode: Int(code.rawValue), sql: sql, server: endpoint.redacted, hint: hint,
            isRetryable: retryable)
    }
}
