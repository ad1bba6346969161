import CCurl
import Synchronization

/// Lets any thread stop a transfer running on a client's thread: libcurl's progress callback polls
/// `isCancelled` (at least once a second, more often while data moves) and aborts the transfer.
final class TransferControl: Sendable {
    private let cancelled = Atomic<Bool>(false)

    func cancel() { cancelled.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}

/// The state of one HTTP exchange, shared with libcurl's C callbacks through an opaque pointer.
///
/// Confined to the client's thread (libcurl calls the callbacks from `curl_easy_perform` on the
/// calling thread); only `control` is touched from elsewhere.
final class TransferContext: @unchecked Sendable {
    /// Where a 200 response's body goes, in order, on the client thread. Throwing aborts the transfer.
    let onData: (UnsafeRawBufferPointer) throws -> Void
    /// Fills the request body (streamed uploads); returns the number of bytes written, 0 at the end.
    let readBody: ((UnsafeMutableRawBufferPointer) throws -> Int)?
    let control: TransferControl
    private let readTimeout: Duration?

    /// The status of the final response (after any `100 Continue`), 0 until its status line arrives.
    private(set) var status = 0
    /// Response headers of the final response, names lowercased.
    private(set) var headers: [String: String] = [:]
    /// The body of a non-200 response (the server's exception text), at most `errorBodyLimit` bytes.
    private(set) var errorBody: [UInt8] = []
    /// The last bytes of a 200 body, to find an exception the server appended after data.
    private(set) var tail: [UInt8] = []
    /// Bytes of a 200 body handed to `onData`.
    private(set) var deliveredBytes = 0
    private(set) var uploadedBytes = 0
    /// What a callback threw (it then made libcurl abort).
    private(set) var callbackError: (any Error)?
    /// Why the progress callback aborted the transfer.
    private(set) var abortReason: AbortReason?

    enum AbortReason { case cancelled, readTimeout }

    private var lastActivity = ContinuousClock.now
    private var lastDownloaded: Int64 = 0
    private var lastUploaded: Int64 = 0

    static let errorBodyLimit = 64 * 1024
    static let tailLimit = 4096

    init(
        control: TransferControl, readTimeout: Duration?,
        readBody: ((UnsafeMutableRawBufferPointer) throws -> Int)? = nil,
        onData: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) {
        self.control = control
        self.readTimeout = readTimeout
        self.readBody = readBody
        self.onData = onData
    }

    /// libcurl's write callback: returns `data.count` to go on, anything else aborts.
    func receive(_ data: UnsafeRawBufferPointer) -> Int {
        lastActivity = .now
        guard status == 200 else {
            let room = Self.errorBodyLimit - errorBody.count
            if room > 0 { errorBody.append(contentsOf: data.prefix(room)) }
            return data.count
        }
        if data.count >= Self.tailLimit {
            tail = Array(data.suffix(Self.tailLimit))
        } else {
            tail.append(contentsOf: data)
            if tail.count > Self.tailLimit { tail.removeFirst(tail.count - Self.tailLimit) }
        }
        deliveredBytes += data.count
        do {
            try onData(data)
        } catch {
            callbackError = error
            return 0
        }
        return data.count
    }

    /// libcurl's header callback, one line per call (status lines included).
    func header(_ line: UnsafeRawBufferPointer) -> Int {
        lastActivity = .now
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            let parts = text.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = [:]
        } else if let colon = text.firstIndex(of: ":") {
            let name = text[..<colon].lowercased()
            let value = text[text.index(after: colon)...].strippingWhitespace()
            headers[name] = value
        }
        return line.count
    }

    /// libcurl's read callback: the number of bytes put into `buffer`, 0 at the end of the body, or
    /// `CURL_READFUNC_ABORT` when the producer threw.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let readBody else { return 0 }
        defer { lastActivity = .now }
        do {
            let n = try readBody(buffer)
            precondition(n >= 0 && n <= buffer.count, "a body producer returned \(n) for a buffer of \(buffer.count)")
            uploadedBytes += n
            return n
        } catch {
            callbackError = error
            return Int(CURL_READFUNC_ABORT)
        }
    }

    /// libcurl's progress callback: non-zero aborts the transfer (`CURLE_ABORTED_BY_CALLBACK`).
    func progress(downloaded: Int64, uploaded: Int64) -> Int32 {
        if control.isCancelled {
            abortReason = .cancelled
            return 1
        }
        let now = ContinuousClock.now
        if downloaded != lastDownloaded || uploaded != lastUploaded {
            lastDownloaded = downloaded
            lastUploaded = uploaded
            lastActivity = now
        }
        if let readTimeout, now - lastActivity > readTimeout {
            abortReason = .readTimeout
            return 1
        }
        return 0
    }
}

// The C callbacks: `userdata` is an unretained `TransferContext` that outlives the transfer.

let curlWriteCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, user in
    let context = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
    return context.receive(UnsafeRawBufferPointer(start: data, count: size * count))
}

let curlHeaderCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, user in
    let context = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
    return context.header(UnsafeRawBufferPointer(start: data, count: size * count))
}

let curlReadCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    buffer, size, count, user in
    let context = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
    return context.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
}

let curlProgressCallback:
    @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
        -> Int32 = { user, _, downloaded, _, uploaded in
            let context = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
            return context.progress(downloaded: Int64(downloaded), uploaded: Int64(uploaded))
        }
