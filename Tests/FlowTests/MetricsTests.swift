import Flow
import Foundation
import Testing

@Suite struct MetricsTests {
    /// Prometheus' text format: HELP and TYPE per family, families by name, labels escaped,
    /// histogram buckets cumulative in ascending bound, then _sum and _count.
    @Test func rendersTheTextExpositionFormat() {
        let r = MetricsRegistry()
        r.set("b_gauge", 2.5, labels: [("slot", "s\"1")], help: "A gauge.")
        r.add("a_total", help: "A counter.")
        r.add("a_total", 2, help: "A counter.")
        r.observe("c_seconds", 0.3, buckets: [0.1, 1], help: "A histogram.")
        r.observe("c_seconds", 5, buckets: [0.1, 1], help: "A histogram.")
        #expect(
            r.render() == """
                # HELP a_total A counter.
                # TYPE a_total counter
                a_total 3
                # HELP b_gauge A gauge.
                # TYPE b_gauge gauge
                b_gauge{slot="s\\"1"} 2.5
                # HELP c_seconds A histogram.
                # TYPE c_seconds histogram
                c_seconds_bucket{le="0.1"} 0
                c_seconds_bucket{le="1"} 1
                c_seconds_bucket{le="+Inf"} 2
                c_seconds_sum 5.3
                c_seconds_count 2

                """)
        r.remove("b_gauge", labels: [("slot", "s\"1")])
        #expect(r.value("b_gauge", labels: [("slot", "s\"1")]) == nil)
        #expect(r.value("a_total") == 3)
    }

    /// Edges are collected at each render: totals, occupancy of the byte bound, blocked time.
    @Test func edgesAreCollectedAtRender() async throws {
        let r = MetricsRegistry()
        let channel = BatchChannel.make(name: "src->sink", bounds: ChannelBounds(byteLimit: 1 << 20, maxBatches: 8))
        r.collectEdges([channel.sender.metrics], byteLimit: 1 << 20)
        let batch = makeBatch(first: 0, rows: 1000)
        try await channel.sender.send(.batch(batch))
        let text = r.render()
        #expect(text.contains("dpone_source_rows_total 1000\n"), "\(text)")
        #expect(text.contains("dpone_channel_buffered_bytes{edge=\"src->sink\"} \(batch.byteCount)\n"), "\(text)")
        #expect(text.contains("dpone_channel_occupancy_ratio{edge=\"src->sink\"} \(Double(batch.byteCount) / Double(1 << 20))\n"), "\(text)")
        #expect(text.contains("# TYPE dpone_channel_blocked_seconds_total counter"))
        _ = try await channel.receiver.next()
    }

    /// The endpoint answers GET /metrics with the registry and anything else with 404, from its
    /// own thread; after stop() nothing listens.
    @Test func serverAnswersScrapes() async throws {
        let r = MetricsRegistry()
        r.set("dpone_up", 1, help: "Up.")
        let server = try MetricsServer(address: "127.0.0.1", port: 0, registry: r)
        #expect(server.port > 0)
        let ok = try await curl("http://127.0.0.1:\(server.port)/metrics")
        #expect(ok.status == 0 && ok.body.contains("dpone_up 1\n"), "\(ok)")
        let missing = try await curl("http://127.0.0.1:\(server.port)/other")
        #expect(missing.body.contains("404"), "\(missing)")
        server.stop()
        let gone = try await curl("http://127.0.0.1:\(server.port)/metrics")
        #expect(gone.status != 0, "nothing listens after stop")
        #expect(throws: DponeError.self) { try MetricsServer(address: "not-an-ip", port: 0, registry: r) }
    }

    /// A client that trickles its request a byte a second (each read returns before the socket
    /// timeout) does not hold up another scrape: connections are served side by side. One at a time,
    /// the scrape below would wait behind it for its whole 8 s, past curl's 5 s limit.
    @Test func aSlowClientDoesNotBlockAScrape() async throws {
        let r = MetricsRegistry()
        r.set("dpone_up", 1, help: "Up.")
        let server = try MetricsServer(address: "127.0.0.1", port: 0, registry: r)
        defer { server.stop() }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(server.port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        let trickler = Thread {
            for byte in Array("GET /metr".utf8) {
                var b = byte
                if send(fd, &b, 1, Int32(MSG_NOSIGNAL)) <= 0 { break }
                Thread.sleep(forTimeInterval: 1)
            }
            close(fd)
        }
        trickler.start()
        // Its connection is established (in the listen backlog) before curl's: accepted first.
        let scrape = try await curl("http://127.0.0.1:\(server.port)/metrics")
        #expect(scrape.status == 0 && scrape.body.contains("dpone_up 1\n"), "\(scrape)")
    }

    /// curl on a thread of its own: waiting for the process must not hold a cooperative thread.
    func curl(_ url: String) async throws -> (status: Int32, body: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try curlBlocking(url) }) }.start()
        }
    }

    func curlBlocking(_ url: String) throws -> (status: Int32, body: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-w", "\n%{http_code}", "--max-time", "5", url]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
