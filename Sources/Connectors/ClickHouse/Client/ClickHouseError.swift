import Flow
import Foundation

/// An error from a ClickHouse server (an exception it reported) or from talking to it.
///
/// Carries what is known: ClickHouse's exception `code` (from `X-ClickHouse-Exception-Code` or the
/// `Code: N` the body starts with) and `name` (e.g. `UNKNOWN_TABLE`, modern servers only), the HTTP
/// status, libcurl's error code for transport failures, a one-line prefix of the SQL and the server
/// (`http://user:***@host:port/`). No field ever holds the password: server and curl messages are
/// scrubbed of it before they are stored.
public struct ClickHouseError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// The server answered with an exception (`code` is set when it sent one).
        case server
        /// No usable connection: refused, reset, DNS, TLS, the connection dropped mid-request.
        case connection
        /// The connect timeout or the read timeout (no byte from the server for that long) passed.
        case timeout
        /// The awaiting task was cancelled; the request was aborted.
        case cancelled
        /// Misuse of the client (bad URL, a call while an insert stream is open, a closed client),
        /// a body producer or chunk consumer that threw, or a missing server capability.
        case client
    }

    public var kind: Kind
    /// ClickHouse's exception code, e.g. 60 (UNKNOWN_TABLE), 62 (SYNTAX_ERROR), 516
    /// (AUTHENTICATION_FAILED) or 192/193 (UNKNOWN_USER/WRONG_PASSWORD on old servers).
    public var code: Int?
    /// The exception's name when the server sends it (`(UNKNOWN_TABLE)`, 21.x and later).
    public var name: String?
    /// The server's exception text without the `Code: N. DB::Exception:` decoration, or curl's
    /// error text for transport failures.
    public var message: String
    public var httpStatus: Int?
    /// libcurl's `CURLcode` for transport failures.
    public var curlCode: Int?
    /// The first 200 characters of the statement, on one line.
    public var sql: String?
    /// The endpoint, redacted (`http://dpone:***@127.0.0.1:18123/`).
    public var server: String?
    public var hint: String?
    /// True when repeating the same request may succeed (connection failures, server overload); the
    /// client retries only requests the caller marked idempotent.
    public var isRetryable: Bool
    /// How many times the request was sent before this error (more than 1 after retries).
    public var attempts: Int = 1
    /// The `query_id` of the (last) request, to find it in the server's logs and `system.query_log`.
    public var queryID: String?

    public init(
        kind: Kind, code: Int? = nil, name: String? = nil, message: String, httpStatus: Int? = nil,
        curlCode: Int? = nil, sql: String? = nil, server: String? = nil, hint: String? = nil,
        isRetryable: Bool = false
    ) {
        self.kind = kind
        self.code = code
        self.name = name
        self.message = message
        self.httpStatus = httpStatus
        self.curlCode = curlCode
        self.sql = sql.map(Self.abbreviate)
        self.server = server
        self.hint = hint
        self.isRetryable = isRetryable
    }

    public var description: String {
        var text = "ClickHouse"
        if let code { text += " error \(code)" }
        if let name { text += " (\(name))" }
        text += ": \(message)"
        if attempts > 1 { text += " (after \(attempts) attempts)" }
        if let hint { text += "\nhint: \(hint)" }
        let context = self.context
        if !context.isEmpty {
            text +=
                "\n(" + context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
        }
        return text
    }

    var context: [String: String] {
        var context: [String: String] = [:]
        if let server { context["server"] = server }
        if let sql { context["sql"] = sql }
        if let httpStatus { context["http_status"] = String(httpStatus) }
        if let curlCode { context["curl_code"] = String(curlCode) }
        if let queryID { context["query_id"] = queryID }
        return context
    }

    /// The same error as a Flow `DponeError` of `kind` (sink by default; cancellation stays
    /// `.cancelled`): code, name, status, server and SQL move into the context.
    public func dponeError(_ kind: DponeError.Kind = .sink) -> DponeError {
        var context = self.context
        if attempts > 1 { context["attempts"] = String(attempts) }
        if let code { context["code"] = String(code) }
        if let name { context["exception"] = name }
        let prefix = code.map { "ClickHouse error \($0): " } ?? "ClickHouse: "
        // What a later attempt cannot fix (a server exception, a client misuse) says so.
        if !isTransient { context[DponeError.permanentKey] = "true" }
        return DponeError(self.kind == .cancelled ? .cancelled : kind, prefix + message, hint: hint, context: context)
    }

    static func abbreviate(_ sql: String) -> String {
        let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.strippingWhitespace() }.filter { !$0.isEmpty }
            .joined(separator: " ")
        return oneLine.count <= 200 ? oneLine : String(oneLine.prefix(200)) + "…"
    }
}

extension ClickHouseError {
    /// Exception codes worth a retry of an idempotent request: TOO_MANY_SIMULTANEOUS_QUERIES (202),
    /// SOCKET_TIMEOUT (209), NETWORK_ERROR (210), CANNOT_SCHEDULE_TASK (439), KEEPER_EXCEPTION (999),
    /// ALL_CONNECTION_TRIES_FAILED (279).
    static let retryableCodes: Set<Int> = [202, 209, 210, 279, 439, 999]

    /// The error of a failed response: `status` and the body the server sent (its exception text),
    /// `headerCode` from `X-ClickHouse-Exception-Code` when present.
    static func fromResponse(
        status: Int, body: String, headerCode: Int?, sql: String?, endpoint: ClickHouseEndpoint
    ) -> ClickHouseError {
        let parsed = ClickHouseExceptionText.parse(endpoint.scrub(body))
        let code = headerCode ?? parsed.code
        var message = parsed.message
        if message.isEmpty { message = "HTTP \(status) with an empty body" }
        var hint: String?
        switch code {
        case 516, 192, 193, 194:
            hint = "check the user and password in the ClickHouse URL"
        case 81:
            hint = "create the database first, or fix `database` in the URL/configuration"
        default: break
        }
        let retryable = code.map { retryableCodes.contains($0) } ?? [502, 503, 504].contains(status)
        return ClickHouseError(
            kind: .server, code: code, name: parsed.name, message: message, httpStatus: status, sql: sql,
            server: endpoint.redacted, hint: hint, isRetryable: retryable)
    }
}

/// ClickHouse's exception text in its two shapes:
/// - 18.x–20.x: `Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception`
/// - 21.x+:     `Code: 60. DB::Exception: Table x doesn't exist. (UNKNOWN_TABLE) (version 26.9.2.1 (official build))`
enum ClickHouseExceptionText {
    /// The code, name and bare message of `text`; text that is not an exception comes back whole as
    /// the message (trimmed, at most 4000 characters).
    static func parse(_ text: String) -> (code: Int?, name: String?, message: String) {
        var rest = Substring(text.strippingWhitespace())
        var code: Int?
        var name: String?
        if let start = rest.range(of: "Code: ") {
            let digits = rest[start.upperBound...].prefix(while: \.isNumber)
            if let value = Int(digits) {
                code = value
                rest = rest[digits.endIndex...]
                if rest.hasPrefix(",") || rest.hasPrefix(".") { rest = rest.dropFirst() }
                rest = Substring(rest.strippingWhitespace())
            }
        }
        if code != nil {
            for decoration in ["e.displayText() = ", "DB::Exception: ", "DB::NetException: ", "DB::ErrnoException: "]
            where rest.hasPrefix(decoration) {
                rest = rest.dropFirst(decoration.count)
            }
            if let what = rest.range(of: ", e.what() = ", options: .backwards) { rest = rest[..<what.lowerBound] }
            // " (version 26.9.2.1 (official build))"
            if let version = rest.range(of: " (version ", options: .backwards), rest.hasSuffix(")") {
                rest = rest[..<version.lowerBound]
            }
            // " (UNKNOWN_TABLE)"
            if rest.hasSuffix(")"), let open = rest.lastIndex(of: "(") {
                let candidate = rest[rest.index(after: open)..<rest.index(before: rest.endIndex)]
                if !candidate.isEmpty, candidate.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) {
                    name = String(candidate)
                    rest = rest[..<open]
                }
            }
        }
        var message = rest.strippingWhitespace()
        if message.count > 4000 { message = String(message.prefix(4000)) + "…" }
        return (code, name, message)
    }

    /// Finds an exception a server appended to a streamed 200 response (the query failed after the
    /// first bytes went out): the last `Code: N, e.displayText() = DB::Exception` /
    /// `Code: N. DB::Exception` that starts a line (or the body) in `tail` and runs to its end.
    static func trailingException(in tail: [UInt8]) -> String? {
        let text = String(decoding: tail, as: UTF8.self)
        var searchEnd = text.endIndex
        while let found = text.range(of: "Code: ", options: .backwards, range: text.startIndex..<searchEnd) {
            searchEnd = found.lowerBound
            let startsLine = found.lowerBound == text.startIndex || text[text.index(before: found.lowerBound)] == "\n"
            guard startsLine else { continue }
            let after = text[found.upperBound...]
            let digits = after.prefix(while: \.isNumber)
            guard !digits.isEmpty else { continue }
            let tailText = after[digits.endIndex...]
            if tailText.hasPrefix(", e.displayText() = DB::") || tailText.hasPrefix(". DB::") {
                return String(text[found.lowerBound...])
            }
        }
        return nil
    }
}

extension StringProtocol {
    func strippingWhitespace() -> String {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s = s.dropFirst() }
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

extension ClickHouseError: TransientClassifying {
    /// No connection, or no answer in time: the server may be back on the next attempt. A server
    /// exception (a bad query, a value that does not fit) is not.
    public var isTransient: Bool { kind == .connection || kind == .timeout }
}
