import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A minimal HTTP/1.0 endpoint for Prometheus: `GET /metrics` answers the registry's text
/// exposition, anything else 404. One blocking accept loop on its own thread (never the cooperative
/// pool) hands each connection to a short-lived thread of its own, so a slow or silent client never
/// holds up another scrape; at most `maxConnections` are served at once (more are closed at once),
/// and each has 2 s to send its request and to take the answer. `stop()` closes the socket.
public final class MetricsServer: Sendable {
    /// Connections served at once; a scraper opens one at a time, so this bounds abuse only.
    public static let maxConnections = 16
    private let active = Atomic<Int>(0)
    public let address: String
    /// The bound port (the kernel's choice when 0 was asked for).
    public let port: Int
    private let fd: Int32
    private let stopped = Atomic<Bool>(false)

    /// Binds and listens on `address:port` (IPv4) and starts serving `registry`.
    public init(address: String = "127.0.0.1", port: Int, registry: MetricsRegistry = .shared) throws {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw DponeError(.io, "metrics endpoint: socket() failed (errno \(errno))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        guard inet_pton(AF_INET, address, &addr.sin_addr) == 1 else {
            close(fd)
            throw DponeError(.usage, "metrics address \(address) is not an IPv4 address", hint: "use e.g. 127.0.0.1 or 0.0.0.0")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(fd)
            throw DponeError(
                .usage, "metrics endpoint: cannot listen on \(address):\(port) (\(String(cString: strerror(code))))",
                hint: "choose another --metrics-port")
        }
        self.fd = fd
        self.address = address
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        let thread = Thread { [self] in self.serve(registry) }
        thread.name = "dpone-metrics"
        thread.start()
    }

    /// Stops accepting; the thread ends. Idempotent.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func serve(_ registry: MetricsRegistry) {
        while !stopped.load(ordering: .acquiring) {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            guard active.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue <= Self.maxConnections else {
                active.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                close(client)
                continue
            }
            let thread = Thread { [self] in
                respond(client, registry)
                close(client)
                active.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            }
            thread.name = "dpone-metrics-client"
            thread.start()
        }
    }

    private func respond(_ client: Int32, _ registry: MetricsRegistry) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        // The whole request within 2 s, however slowly it trickles.
        let deadline = ContinuousClock.now + .seconds(2)
        while request.count < 8192, !request.containsHeaderEnd, ContinuousClock.now < deadline {
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            request += chunk[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let (status, body): (String, String)
        if line.count >= 2, line[0] == "GET", line[1] == "/metrics" || line[1].hasPrefix("/metrics?") {
            (status, body) = ("200 OK", registry.render())
        } else {
            (status, body) = ("404 Not Found", "only GET /metrics is served here\n")
        }
        let bytes = Array(body.utf8)
        let head =
            "HTTP/1.0 \(status)\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
        for part in [Array(head.utf8), bytes] {
            var offset = 0
            while offset < part.count {
                let n = part.withUnsafeBytes { send(client, $0.baseAddress! + offset, part.count - offset, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

extension [UInt8] {
    fileprivate var containsHeaderEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 {
            return true
        }
        return false
    }
}
