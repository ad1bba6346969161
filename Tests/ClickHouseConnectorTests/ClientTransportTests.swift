import Foundation
import Synchronization
import Testing

@testable import ClickHouseConnector

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 server on 127.0.0.1 for transport behaviour no real server shows on demand:
/// connections dropped before an answer (a restarting server), an answer that never comes.
/// Each connection serves one request and is closed.
final class FakeHTTPServer: Sendable {
    enum Behavior: Sendable {
        /// Accept and close at once, without an answer (libcurl: "Empty reply from server").
        case drop
        /// Read the request, then answer nothing until the server stops.
        case hang
        /// Answer 200 with `body`.
        case respond(String)
    }

    let port: Int
    private let listener: Int32
    private let script: Mutex<[Behavior]>
    private let fallback: Behavior
    private let stopped = Atomic<Bool>(false)
    /// Requests seen (one per connection), with their request line and headers.
    let requests = Mutex<[String]>([])

    /// Serves `script` in order (one behavior per connection), then `fallback` for the rest.
    init(script: [Behavior], fallback: Behavior) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        self.listener = fd
        self.script = Mutex(script)
        self.fallback = fallback
        let thread = Thread { [self] in self.acceptLoop() }
        thread.start()
    }

    var url: String { "http://u:fake-pw@127.0.0.1:\(port)/" }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let behavior = script.withLock { $0.isEmpty ? fallback : $0.removeFirst() }
            let thread = Thread { [self] in self.serve(client, behavior) }
            thread.start()
        }
    }

    private func serve(_ fd: Int32, _ behavior: Behavior) {
        defer { close(fd) }
        if case .drop = behavior { return }
        let head = readRequest(fd)
        requests.withLock { $0.append(head) }
        switch behavior {
        case .drop: return
        case .hang:
            while !stopped.load(ordering: .relaxed) { usleep(20_000) }
        case .respond(let body):
            let response = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            _ = response.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        }
    }

    /// Reads the request line, headers and a Content-Length body; returns the head as text.
    private func readRequest(_ fd: Int32) -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
            let text = String(decoding: data, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let head = String(text[..<end.lowerBound])
            let length =
                head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            if data.count - text[..<end.upperBound].utf8.count >= length { return head }
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A port on 127.0.0.1 where a connection is refused, held for as long as the value lives: the
/// socket is bound but never listens. It is taken below the kernel's ephemeral range (32768 and
/// up), where the "free" ports other tests' servers (a private ClickHouse) get from bind(0) lie,
/// so neither can take the other's port in between.
final class ClosedPort {
    let port: Int
    private let fd: Int32

    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var bound = 0
        for candidate in 20_011...20_999 {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(candidate).bigEndian
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if ok {
                bound = candidate
                break
            }
        }
        port = bound
    }

    deinit { close(fd) }
}

@Suite("ClickHouse client: transport (fake server)")
struct ClientTransportTests {
    static func fastRetries(_ url: String, readTimeout: Duration? = .seconds(5)) -> ClickHouseConfiguration {
        ClickHouseConfiguration(
            url: url, connectTimeout: .seconds(2), readTimeout: readTimeout, maxRetries: 3,
            retryBaseDelay: .milliseconds(20), maxRetryDelay: .milliseconds(100))
    }

    @Test func idempotentRequestSurvivesDroppedConnections() async throws {
        let server = try FakeHTTPServer(script: [.drop, .drop], fallback: .respond("26.9.2.1\n"))
        defer { server.stop() }
        let client = try ClickHouseClient(Self.fastRetries(server.url))
        let info = try await client.serverInfo()
        #expect(info.version.major == 26)
        await client.close()
        let heads = server.requests.withLock { $0 }
        #expect(heads.count == 1)
        // Credentials travel only in headers.
        let head = try #require(heads.first)
        #expect(head.contains("X-ClickHouse-User: u"))
        #expect(head.contains("X-ClickHouse-Key: fake-pw"))
        #expect(!head.split(separator: "\r\n")[0].contains("fake-pw"))
    }

    @Test func nonIdempotentRequestIsNotRetried() async throws {
        let server = try FakeHTTPServer(script: [.drop], fallback: .respond(""))
        defer { server.stop() }
        let client = try ClickHouseClient(Self.fastRetries(server.url))
        let error = try await #require(throws: ClickHouseError.self) {
            try await client.execute("INSERT INTO t VALUES (1)")
        }
        #expect(error.kind == .connection)
        #expect(error.attempts == 1)
        // The same statement marked idempotent goes through on the next connection.
        try await client.execute("CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = Memory", idempotent: true)
        await client.close()
    }

    @Test func serverDownIsAClearErrorNamingHostAndPort() async throws {
        let closed = ClosedPort()
        let port = try #require(closed.port > 0 ? closed.port : nil, "no port in 20011-20999 could be held closed")
        let client = try ClickHouseClient(Self.fastRetries("http://dpone:topsecret@127.0.0.1:\(port)/"))
        let error = try await #require(throws: ClickHouseError.self) { try await client.query("SELECT 1") }
        #expect(error.kind == .connection)
        #expect(error.isRetryable)
        #expect(error.attempts == 4)
        #expect(error.message.contains("127.0.0.1:\(port)"))
        #expect(error.hint?.contains("scripts/clickhouse.sh start") == true)
        #expect(!error.description.contains("topsecret"))
        let once = try await #require(throws: ClickHouseError.self) { try await client.execute("DROP TABLE x") }
        #expect(once.attempts == 1)
        await client.close()
        withExtendedLifetime(closed) {}
    }

    @Test func readTimeoutFiresWhenTheServerGoesSilent() async throws {
        let server = try FakeHTTPServer(script: [], fallback: .hang)
        defer { server.stop() }
        let client = try ClickHouseClient(Self.fastRetries(server.url, readTimeout: .milliseconds(600)))
        let start = ContinuousClock.now
        let error = try await #require(throws: ClickHouseError.self) { try await client.query("SELECT 1") }
        #expect(error.kind == .timeout)
        #expect(error.attempts == 1)  // a read timeout is not retried
        // The server never answers: only the timeout can end the call. A generous bound keeps a
        // broken timeout from hanging the suite without turning load into failures.
        #expect(ContinuousClock.now - start < .seconds(60))
        await client.close()
    }

    @Test func cancellingTheTaskAbortsTheRequest() async throws {
        let server = try FakeHTTPServer(script: [], fallback: .hang)
        defer { server.stop() }
        let client = try ClickHouseClient(Self.fastRetries(server.url, readTimeout: nil))
        let task = Task { try await client.query("SELECT 1") }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - start < .seconds(60), "with no read timeout only the cancellation can end the call")
        guard case .failure(let error) = result, let ch = error as? ClickHouseError else {
            Issue.record("expected a ClickHouseError, got \(result)")
            return
        }
        #expect(ch.kind == .cancelled)
        #expect(ch.dponeError().kind == .cancelled)
        await client.close()
    }

    @Test func closedClientRefusesRequests() async throws {
        let client = try ClickHouseClient(url: "http://127.0.0.1:1/")
        await client.close()
        await client.close()
        let error = try await #require(throws: ClickHouseError.self) { try await client.execute("SELECT 1") }
        #expect(error.kind == .client)
    }
}

@Suite("ClickHouse client: insert body pipe")
struct ClientInsertPipeTests {
    @Test func boundedPipeDeliversEverythingInOrder() async throws {
        let pipe = InsertBodyPipe(capacity: 1000)
        let received = Mutex<[UInt8]>([])
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 333)
            while true {
                let n = try! buffer.withUnsafeMutableBytes { try pipe.read(into: $0) }
                if n == 0 { break }
                received.withLock { $0 += buffer[0..<n] }
                usleep(100)
            }
            pipe.close(CancellationError())
        }
        reader.start()
        var expected: [UInt8] = []
        for i in 0..<500 {
            let chunk = [UInt8](repeating: UInt8(i % 251), count: 1 + i % 97)
            expected += chunk
            try await pipe.write(chunk)
        }
        pipe.finish()
        while received.withLock({ $0.count }) < expected.count { try await Task.sleep(for: .milliseconds(5)) }
        #expect(received.withLock { $0 } == expected)
    }

    @Test func abortMakesTheReaderThrowAndCloseFailsWriters() async throws {
        let pipe = InsertBodyPipe(capacity: 10)
        try await pipe.write([1, 2, 3])
        pipe.abort(ClickHouseError(kind: .cancelled, message: "stop"))
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(throws: ClickHouseError.self) { try buffer.withUnsafeMutableBytes { try pipe.read(into: $0) } }
        let other = InsertBodyPipe(capacity: 2)
        try await other.write([1, 2])
        let blocked = Task { try await other.write([3]) }  // full: suspends
        try await Task.sleep(for: .milliseconds(50))
        other.close(ClickHouseError(kind: .server, code: 60, message: "gone"))
        await #expect(throws: ClickHouseError.self) { try await blocked.value }
    }
}
