import CCurl
import Synchronization

/// One libcurl easy handle for request/response exchanges whose whole body fits in memory (schema
/// registry calls, REST pages, token requests). The handle, and its kept-alive connection, is
/// reused between requests.
///
/// Confined to its owner's `DedicatedThread`: created, used and closed there only, never on Swift's
/// cooperative pool.
public final class HTTPExchange: @unchecked Sendable {
    public enum Method: String, Sendable, Hashable, Encodable {
        case get = "GET"
        case post = "POST"
        case put = "PUT"
        case delete = "DELETE"
    }

    /// What one exchange produced: a status, the final response's headers and its body.
    public struct Response: Sendable {
        public var status: Int
        /// Header lines of the final response, names lowercased, in arrival order.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        /// The value of header `name` (lowercase), the last when repeated.
        public func header(_ name: String) -> String? { headers.last { $0.name == name }?.value }
    }

    /// A request that got no HTTP answer.
    public struct TransportFailure: Error, Sendable {
        public enum Kind: Sendable { case timeout, connection, tooLarge, cancelled, other }
        /// libcurl's message. It never holds credentials that travel in headers; a caller whose
        /// URL carries a secret masks it.
        public var message: String
        public var kind: Kind
        public var cancelled: Bool { kind == .cancelled }
    }

    /// The body kept when a caller does not say: 32 MiB.
    public static let defaultBodyLimit = 32 * 1024 * 1024

    private var easy: UnsafeMutableRawPointer?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    public init() {}

    deinit {
        if let easy { curl_easy_cleanup(easy) }
        errorBuffer.deallocate()
    }

    public func close() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
    }

    /// Runs one request to completion on the calling (owner's) thread.
    ///
    /// - `headers`: full header lines (`Authorization: ...`).
    /// - `timeoutSeconds`: bound of the whole exchange, connection included.
    /// - `bodyLimit`: a longer body fails the exchange (`.tooLarge`) instead of filling memory.
    public func perform(
        _ method: Method, url: String, headers: [String], body: [UInt8]?, timeoutSeconds: Double,
        bodyLimit: Int = HTTPExchange.defaultBodyLimit, cancel: HTTPCancel
    ) throws(TransportFailure) -> Response {
        _ = Self.globalInit
        if easy == nil { easy = curl_easy_init() }
        guard let easy else { throw TransportFailure(message: "libcurl could not create an easy handle", kind: .other) }
        curl_easy_reset(easy)
        errorBuffer[0] = 0
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for line in headers + ["Expect:"] { list = curl_slist_append(list, line) }

        let sink = ResponseSink(cancel: cancel, bodyLimit: bodyLimit)
        let user = Unmanaged.passUnretained(sink).toOpaque()
        let timeoutMS = Int(max(1, timeoutSeconds * 1000))
        var ok = true
        func set(_ code: CURLcode) { ok = ok && code == CURLE_OK }
        set(dpone_curl_setopt_string(easy, CURLOPT_URL, url))
        set(dpone_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(dpone_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutMS))
        set(dpone_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMS, 10_000)))
        set(dpone_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        set(dpone_curl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1))
        set(dpone_curl_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))  // whatever libcurl decodes
        set(dpone_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(dpone_curl_setopt_write_callback(easy, httpWriteCallback))
        set(dpone_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, user))
        set(dpone_curl_setopt_header_callback(easy, httpHeaderCallback))
        set(dpone_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, user))
        set(dpone_curl_setopt_long(easy, CURLOPT_NOPROGRESS, 0))
        set(dpone_curl_setopt_xferinfo_callback(easy, httpProgressCallback))
        set(dpone_curl_setopt_pointer(easy, CURLOPT_XFERINFODATA, user))
        set(dpone_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, list))
        switch method {
        case .get:
            set(dpone_curl_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case .post, .put, .delete:
            if method != .post { set(dpone_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method.rawValue)) }
            if let body {
                set(dpone_curl_setopt_long(easy, CURLOPT_POST, 1))
                set(dpone_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                body.withUnsafeBytes { raw in
                    set(
                        dpone_curl_setopt_pointer(
                            easy, CURLOPT_COPYPOSTFIELDS,
                            UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(errorBuffer))))
                }
            } else if method == .post {
                set(dpone_curl_setopt_long(easy, CURLOPT_POST, 1))
                set(dpone_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, 0))
                set(dpone_curl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, ""))
            }
        }
        guard ok else { throw TransportFailure(message: "libcurl rejected an option (libcurl too old?)", kind: .other) }
        let code = curl_easy_perform(easy)
        guard code == CURLE_OK else {
            if sink.cancelled { throw TransportFailure(message: "the request was cancelled", kind: .cancelled) }
            if sink.overflowed { throw TransportFailure(message: "the response exceeds \(bodyLimit) bytes", kind: .tooLarge) }
            var message = String(cString: errorBuffer)
            if message.isEmpty { message = String(cString: curl_easy_strerror(code)) }
            let kind: TransportFailure.Kind =
                switch code {
                case CURLE_OPERATION_TIMEDOUT: .timeout
                case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
                    CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
                    .connection
                default: .other
                }
            throw TransportFailure(message: message, kind: kind)
        }
        var status = 0
        _ = dpone_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, headers: sink.headers, body: sink.body)
    }
}

/// Set from any thread to abort the exchange running for a cancelled task.
public final class HTTPCancel: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// The state libcurl's callbacks share for one exchange (on the owner's thread).
private final class ResponseSink {
    let cancel: HTTPCancel
    let bodyLimit: Int
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var overflowed = false
    var cancelled = false

    init(cancel: HTTPCancel, bodyLimit: Int) {
        self.cancel = cancel
        self.bodyLimit = bodyLimit
    }

    func header(_ line: UnsafeRawBufferPointer) {
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            headers = []  // a new response (after a 100 Continue or a redirect)
        } else if let colon = text.firstIndex(of: ":") {
            let name = text[..<colon].lowercased()
            let value = String(text[text.index(after: colon)...].drop { $0 == " " || $0 == "\t" }.reversed().drop { $0.isWhitespace }.reversed())
            headers.append((name, value))
        }
    }
}

private let httpWriteCallback:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, user in
        let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        guard sink.body.count + bytes.count <= sink.bodyLimit else {
            sink.overflowed = true
            return 0
        }
        sink.body.append(contentsOf: bytes)
        return bytes.count
    }

private let httpHeaderCallback:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, user in
        let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
        sink.header(UnsafeRawBufferPointer(start: data, count: size * count))
        return size * count
    }

private let httpProgressCallback:
    @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = {
        user, _, _, _, _ in
        let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
        if sink.cancel.isCancelled {
            sink.cancelled = true
            return 1
        }
        return 0
    }
