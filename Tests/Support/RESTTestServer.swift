import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One request the REST test server received.
public struct RESTTestRequest: Sendable {
    public var method: String
    /// The path without the query (`/items`).
    public var path: String
    /// The query parameters, percent-decoded (the last of a repeated name).
    public var query: [String: String]
    /// The request target as sent (`/items?page=2`).
    public var target: String
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// The answer to a request: a status, headers and a body, optionally after a delay; or a dropped
/// connection.
public struct RESTTestResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Seconds the server waits before answering (a slow server, a timeout).
    public var delay: Double = 0
    /// Close the connection without answering (a connection reset).
    public var drop = false

    public init(status: Int = 200, headers: [(String, String)] = [], body: [UInt8] = [], delay: Double = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
    }

    public static func json(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> RESTTestResponse {
        RESTTestResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
    }

    public static var dropped: RESTTestResponse {
        var r = RESTTestResponse(status: 0)
        r.drop = true
        return r
    }
}

/// A deterministic HTTP/1.1 server on a loopback ephemeral port, for the REST connector's tests:
/// each request goes to `handler`, on the connection's own thread (never Swift's cooperative pool).
/// Keep-alive connections, `Content-Length` bodies. `stop()` closes the listener.
public final class RESTTestServer: @unchecked Sendable {
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let handler: @Sendable (RESTTestRequest) -> RESTTestResponse
    private let log = Mutex<[RESTTestRequest]>([])
    private let stopped = Atomic<Bool>(false)

    /// Every request so far, in arrival order.
    public var requests: [RESTTestRequest] { log.withLock { $0 } }

    public init(port: Int = 0, handler: @escaping @Sendable (RESTTestRequest) -> RESTTestResponse) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.listener = fd
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        let thread = Thread { [self] in self.acceptLoop() }
        thread.name = "rest-test-server"
        thread.start()
    }

    deinit { stop() }

    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            var yes: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            let thread = Thread { [self] in self.serve(client) }
            thread.name = "rest-test-connection"
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            // Headers.
            var headerEnd: Int?
            while headerEnd == nil {
                if let end = Self.find([13, 10, 13, 10], in: buffer) {
                    headerEnd = end
                    break
                }
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                buffer.append(contentsOf: chunk[0..<n])
            }
            let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
            buffer.removeFirst(headerEnd! + 4)
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count >= 2 else { return }
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buffer.count < length {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                buffer.append(contentsOf: chunk[0..<n])
            }
            let body = Array(buffer[0..<length])
            buffer.removeFirst(length)
            let target = String(requestLine[1])
            var path = target
            var query: [String: String] = [:]
            if let q = target.firstIndex(of: "?") {
                path = String(target[..<q])
                for item in target[target.index(after: q)...].split(separator: "&") {
                    let kv = item.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                    query[kv[0]] = kv.count > 1 ? kv[1] : ""
                }
            }
            let request = RESTTestRequest(
                method: String(requestLine[0]), path: path, query: query, target: target, headers: headers, body: body)
            log.withLock { $0.append(request) }
            let response = handler(request)
            if response.delay > 0 { usleep(useconds_t(response.delay * 1_000_000)) }
            if response.drop { return }
            var out = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
            for (name, value) in response.headers { out += "\(name): \(value)\r\n" }
            out += "Content-Length: \(response.body.count)\r\n\r\n"
            var bytes = Array(out.utf8)
            bytes.append(contentsOf: response.body)
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                sent += n
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 409: "Conflict"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
