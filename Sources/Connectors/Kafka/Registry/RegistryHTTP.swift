import CCurl
import Synchronization

/// One libcurl easy handle for a schema registry client: small request/response exchanges, whole
/// bodies in memory. The handle (and its kept-alive connection) is reused between requests.
///
/// Confined to the client's `DedicatedThread`: created, used and closed there only.
final class RegistryHTTP: @unchecked Sendable {
    enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
        case put = "PUT"
        case delete = "DELETE"
    }

    /// What one exchange produced: a status and body, or libcurl's failure (no response).
    struct Response: Sendable {
        var status: Int
        var body: [UInt8]
    }

    struct TransportFailure: Error, Sendable {
        /// libcurl's message (it never contains credentials: they travel in a header, not the URL).
        var message: String
        var cancelled: Bool
    }

    /// The largest response body kept (schemas are kilobytes; a runaway proxy page must not fill
    /// memory).
    static let bodyLimit = 32 * 1024 * 1024

    private var easy: UnsafeMutableRawPointer?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    deinit {
        if let easy { curl_easy_cleanup(easy) }
        errorBuffer.deallocate()
    }

    func close() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
    }

    /// Runs one request to completion on the calling (client) thread.
    func perform(
        _ method: Method, url: String, headers: [String], body: [UInt8]?, timeoutSeconds: Double,
        cancel: RegistryCancel
    ) throws(TransportFailure) -> Response {
        _ = Self.globalInit
        if easy == nil { easy = curl_easy_init() }
        guard let easy else { throw TransportFailure(message: "libcurl could not create an easy handle", cancelled: false) }
        curl_easy_reset(easy)
        errorBuffer[0] = 0
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for line in headers + ["Expect:"] { list = curl_slist_append(list, line) }

        let sink = ResponseSink(cancel: cancel)
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
        set(dpone_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(dpone_curl_setopt_write_callback(easy, registryWriteCallback))
        set(dpone_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, user))
        set(dpone_curl_setopt_long(easy, CURLOPT_NOPROGRESS, 0))
        set(dpone_curl_setopt_xferinfo_callback(easy, registryProgressCallback))
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
        guard ok else { throw TransportFailure(message: "libcurl rejected an option (libcurl too old?)", cancelled: false) }
        let code = curl_easy_perform(easy)
        guard code == CURLE_OK else {
            if sink.cancelled { throw TransportFailure(message: "the request was cancelled", cancelled: true) }
            var message = String(cString: errorBuffer)
            if message.isEmpty { message = String(cString: curl_easy_strerror(code)) }
            if sink.overflowed { message = "the response exceeds \(Self.bodyLimit) bytes" }
            throw TransportFailure(message: message, cancelled: false)
        }
        var status = 0
        _ = dpone_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, body: sink.body)
    }
}

/// Set from any thread to abort the request running for a cancelled task.
final class RegistryCancel: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// The state libcurl's callbacks share for one exchange (on the client thread).
private final class ResponseSink {
    let cancel: RegistryCancel
    var body: [UInt8] = []
    var overflowed = false
    var cancelled = false

    init(cancel: RegistryCancel) { self.cancel = cancel }
}

private let registryWriteCallback:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, user in
        let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        guard sink.body.count + bytes.count <= RegistryHTTP.bodyLimit else {
            sink.overflowed = true
            return 0
        }
        sink.body.append(contentsOf: bytes)
        return bytes.count
    }

private let registryProgressCallback:
    @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = {
        user, _, _, _, _ in
        let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
        if sink.cancel.isCancelled {
            sink.cancelled = true
            return 1
        }
        return 0
    }
