// dpone-kafka-mock: a development Kafka cluster for tests, the demo and CI.
//
// Kafka itself is not installable here; librdkafka ships a mock cluster that speaks the real Kafka
// protocol on loopback (produce, fetch, offsets, consumer groups). This process hosts one and keeps
// it up until SIGTERM/SIGINT. The mock has no CreateTopics API, so topics are created through a
// line protocol on a loopback control port:
//
//   create <topic> <partitions>   ->  ok | error <text>
//   bootstrap                     ->  <bootstrap servers>
//   ping                          ->  ok
//   down | up                     ->  ok   (every broker refuses / accepts connections again; what
//                                          it stores is kept: a broker restart, for outage tests)
//
// Usage: dpone-kafka-mock [--brokers N] [--control-port P] [--topic name:partitions ...]
// Prints `bootstrap=<servers>` and `control=127.0.0.1:<port>` on stdout once ready.
// Known mock limits: ~5 MB kept per partition, no real transactions isolation (see README).
import CKafka
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct Arguments {
    var brokers: Int32 = 3
    var controlPort: UInt16 = 0
    var topics: [(String, Int32)] = []

    init(_ argv: [String]) {
        var i = 1
        func value() -> String {
            i += 1
            guard i < argv.count else { fail("missing value after \(argv[i - 1])") }
            return argv[i]
        }
        while i < argv.count {
            switch argv[i] {
            case "--brokers": brokers = Int32(value()) ?? { fail("--brokers takes a number") }()
            case "--control-port": controlPort = UInt16(value()) ?? { fail("--control-port takes a port") }()
            case "--topic":
                let parts = value().split(separator: ":")
                guard parts.count == 2, let n = Int32(parts[1]) else { fail("--topic takes name:partitions") }
                topics.append((String(parts[0]), n))
            case "-h", "--help":
                print("usage: dpone-kafka-mock [--brokers N] [--control-port P] [--topic name:partitions ...]")
                exit(0)
            default: fail("unknown argument \(argv[i])")
            }
            i += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("dpone-kafka-mock: \(message)\n".utf8))
    exit(2)
}

let args = Arguments(CommandLine.arguments)

// The rd_kafka_t that hosts the cluster (a producer that is never used to produce).
var errbuf = [CChar](repeating: 0, count: 512)
guard let conf = rd_kafka_conf_new() else { fail("rd_kafka_conf_new failed") }
_ = rd_kafka_conf_set(conf, "log_level", "3", &errbuf, errbuf.count)
guard let host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errbuf, errbuf.count) else {
    fail("rd_kafka_new: \(String(decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
}
guard let cluster = rd_kafka_mock_cluster_new(host, args.brokers) else { fail("cannot create the mock cluster") }
/// The cluster handle shared by the control threads; librdkafka's mock API is called under a lock.
final class Cluster: @unchecked Sendable {
    let handle: OpaquePointer
    let replication: Int32
    let bootstrap: String
    private let lock = NSLock()

    let brokers: Int32

    init(_ handle: OpaquePointer, brokers: Int32) {
        self.handle = handle
        self.brokers = brokers
        self.replication = min(brokers, 3)
        self.bootstrap = String(validatingCString: rd_kafka_mock_cluster_bootstraps(handle)) ?? ""
    }

    func createTopic(_ name: String, _ partitions: Int32) -> String {
        guard !name.isEmpty, partitions > 0 else { return "error create needs a topic and a partition count > 0" }
        lock.lock()
        defer { lock.unlock() }
        let err = rd_kafka_mock_topic_create(handle, name, partitions, replication)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok" : "error \(String(validatingCString: rd_kafka_err2str(err)) ?? "\(err)")"
    }

    /// Takes every broker down (connections closed, new ones refused) or brings them back up.
    func setBrokers(up: Bool) -> String {
        lock.lock()
        defer { lock.unlock() }
        for id in 1...brokers {
            let err = up ? rd_kafka_mock_broker_set_up(handle, id) : rd_kafka_mock_broker_set_down(handle, id)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { return "error broker \(id): \(err.rawValue)" }
        }
        return "ok"
    }

    /// Answers one connection's lines until it closes.
    func serve(_ fd: Int32) {
        defer { close(fd) }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { return }
            pending.append(contentsOf: buffer[0..<n])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                pending.removeSubrange(...newline)
                let words = line.split(separator: " ").map(String.init)
                let reply: String
                switch words.first {
                case "create" where words.count == 3: reply = createTopic(words[1], Int32(words[2]) ?? 0)
                case "bootstrap": reply = bootstrap
                case "ping": reply = "ok"
                case "down": reply = setBrokers(up: false)
                case "up": reply = setBrokers(up: true)
                default: reply = "error unknown command (create <topic> <partitions> | bootstrap | ping | down | up)"
                }
                let bytes = Array((reply + "\n").utf8)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            }
        }
    }
}

let service = Cluster(cluster, brokers: args.brokers)
for (name, partitions) in args.topics {
    let reply = service.createTopic(name, partitions)
    guard reply == "ok" else { fail("topic \(name): \(reply)") }
}

// The control listener (loopback only).
let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
guard listener >= 0 else { fail("socket: \(String(cString: strerror(errno)))") }
var one: Int32 = 1
setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_port = args.controlPort.bigEndian
address.sin_addr.s_addr = inet_addr("127.0.0.1")
let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
}
guard bound == 0, listen(listener, 16) == 0 else { fail("control port: \(String(cString: strerror(errno)))") }
var actual = sockaddr_in()
var length = socklen_t(MemoryLayout<sockaddr_in>.size)
_ = withUnsafeMutablePointer(to: &actual) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
}

FileHandle.standardOutput.write(Data("bootstrap=\(service.bootstrap)\ncontrol=127.0.0.1:\(UInt16(bigEndian: actual.sin_port))\n".utf8))

let acceptor = Thread {
    while true {
        let fd = accept(listener, nil, nil)
        if fd < 0 { continue }
        Thread { service.serve(fd) }.start()
    }
}
acceptor.start()

// Runs until SIGTERM or SIGINT, then tears the cluster down.
signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
let stop = DispatchSemaphore(value: 0)
let sources = [SIGTERM, SIGINT].map { sig -> any DispatchSourceSignal in
    let source = DispatchSource.makeSignalSource(signal: sig)
    source.setEventHandler { stop.signal() }
    source.resume()
    return source
}
stop.wait()
rd_kafka_mock_cluster_destroy(cluster)
rd_kafka_destroy(host)
_ = sources
exit(0)
