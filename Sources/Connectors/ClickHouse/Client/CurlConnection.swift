import CCurl
import Flow

#if canImport(Glibc)
    import Glibc
#endif

/// One libcurl easy handle, reused for every request of a client so its kept-alive connection is
/// reused too (`curl_easy_reset` between requests keeps the connection cache).
///
/// Confined to the client's `DedicatedThread`: created, used and cleaned up there only.
final class CurlConnection: @unchecked Sendable {
    /// A request body: a small fixed text (SQL), or a stream pulled through the read callback and
    /// sent with chunked transfer encoding.
    enum Body {
        case none
        case bytes([UInt8])
        case stream
    }

    /// What `perform` reports; the response details are in the `TransferContext`.
    struct Outcome {
        var code: CURLcode
        /// libcurl's message for a failed transfer (its error buffer, else `curl_easy_strerror`).
        var curlMessage: String
    }

    private var easy: UnsafeMutableRawPointer?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// libcurl's global state, initialized once per process before the first easy handle.
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    deinit {
        if let easy { curl_easy_cleanup(easy) }
        errorBuffer.deallocate()
    }

    /// Releases the handle and its connection. Idempotent; on the client thread.
    func close() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
    }

    /// Runs one HTTP request to completion on the calling (client) thread.
    ///
    /// `get` sends a GET (no body); otherwise a POST with `body`. `headers` are full header lines.
    func perform(
        url: String, get: Bool = false, headers: [String], body: Body, context: TransferContext,
        configuration: ClickHouseConfiguration
    ) throws -> Outcome {
        _ = Self.globalInit
        if easy == nil { easy = curl_easy_init() }
        guard let easy else {
            throw ClickHouseError(kind: .client, message: "libcurl could not create an easy handle")
        }
        curl_easy_reset(easy)
        errorBuffer[0] = 0
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        var lines = headers + ["Expect:"]  // no `100-continue` round trip before a body
        if case .stream = body { lines.append("Transfer-Encoding: chunked") }
        for line in lines { list = curl_slist_append(list, line) }

        let user = Unmanaged.passUnretained(context).toOpaque()
        var ok = true
        func set(_ code: CURLcode) { ok = ok && code == CURLE_OK }
        set(dpone_curl_setopt_string(easy, CURLOPT_URL, url))
        set(dpone_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(
            dpone_curl_setopt_long(
                easy, CURLOPT_CONNECTTIMEOUT_MS, Int(max(1, configuration.connectTimeout.milliseconds))))
        set(
            dpone_curl_setopt_long(
                easy, CURLOPT_MAXAGE_CONN, Int(max(1, configuration.keepAliveIdle.milliseconds / 1000))))
        set(dpone_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        set(dpone_curl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1))
        set(dpone_curl_setopt_long(easy, CURLOPT_BUFFERSIZE, 256 * 1024))
        set(dpone_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(dpone_curl_setopt_write_callback(easy, curlWriteCallback))
        set(dpone_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, user))
        set(dpone_curl_setopt_header_callback(easy, curlHeaderCallback))
        set(dpone_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, user))
        set(dpone_curl_setopt_long(easy, CURLOPT_NOPROGRESS, 0))
        set(dpone_curl_setopt_xferinfo_callback(easy, curlProgressCallback))
        set(dpone_curl_setopt_pointer(easy, CURLOPT_XFERINFODATA, user))
        set(dpone_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, list))
        switch body {
        case .none where get:
            set(dpone_curl_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case .none:
            set(dpone_curl_setopt_long(easy, CURLOPT_POST, 1))
            set(dpone_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, 0))
            set(dpone_curl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, ""))
        case .bytes(let bytes):
            set(dpone_curl_setopt_long(easy, CURLOPT_POST, 1))
            set(dpone_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)))
            bytes.withUnsafeBytes { raw in
                set(
                    dpone_curl_setopt_pointer(
                        easy, CURLOPT_COPYPOSTFIELDS,
                        UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(errorBuffer))))
            }
        case .stream:
            set(dpone_curl_setopt_long(easy, CURLOPT_POST, 1))
            set(dpone_curl_setopt_long(easy, CURLOPT_UPLOAD_BUFFERSIZE, 1024 * 1024))
            set(dpone_curl_setopt_read_callback(easy, curlReadCallback))
            set(dpone_curl_setopt_pointer(easy, CURLOPT_READDATA, user))
        }
        guard ok else {
            throw ClickHouseError(kind: .client, message: "libcurl rejected an option (libcurl too old?)")
        }
        let code = curl_easy_perform(easy)
        var message = ""
        if code != CURLE_OK {
            message = String(cString: errorBuffer)
            if message.isEmpty { message = String(cString: curl_easy_strerror(code)) }
        }
        return Outcome(code: code, curlMessage: message.strippingWhitespace())
    }
}
