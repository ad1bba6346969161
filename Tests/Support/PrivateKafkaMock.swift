import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A librdkafka mock cluster of its own (`dpone-kafka-mock`, built beside `dpone`), for tests that
/// take its brokers down: the shared cluster serves every other suite in parallel. `stop()` (in a
/// defer) ends it.
public final class PrivateKafkaMock: @unchecked Sendable {
    public let control: (host: String, port: Int)
    public let bootstrap: String
    private let process: Process

    private init(control: (host: String, port: Int), bootstrap: String, process: Process) {
        self.control = control
        self.bootstrap = bootstrap
        self.process = process
    }

    public var url: String { "kafka://\(bootstrap)" }

    /// Starts `binary` (`dpone-kafka-mock`) with `brokers` brokers and reads its two ready lines
    /// on a thread of its own.
    public static func start(binary: String, brokers: Int = 1) async throws -> PrivateKafkaMock {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--brokers", String(brokers)]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let lines: [String: String] = try await withCheckedThrowingContinuation { continuation in
            Thread {
                var text = ""
                var found: [String: String] = [:]
                while found.count < 2 {
                    let chunk = pipe.fileHandleForReading.availableData
                    guard !chunk.isEmpty else { break }
                    text += String(decoding: chunk, as: UTF8.self)
                    for line in text.split(separator: "\n") {
                        let parts = line.split(separator: "=", maxSplits: 1)
                        if parts.count == 2 { found[String(parts[0])] = String(parts[1]) }
                    }
                }
                if found.count == 2 {
                    continuation.resume(returning: found)
                } else {
                    continuation.resume(throwing: KafkaTestError("dpone-kafka-mock exited before it was ready: \(text)"))
                }
            }.start()
        }
        let controlParts = (lines["control"] ?? "").split(separator: ":")
        guard let bootstrap = lines["bootstrap"], controlParts.count == 2, let port = Int(controlParts[1]) else {
            process.terminate()
            throw KafkaTestError("dpone-kafka-mock printed no addresses: \(lines)")
        }
        return PrivateKafkaMock(control: (String(controlParts[0]), port), bootstrap: bootstrap, process: process)
    }

    /// One control line (`down`, `up`, `create t n`); throws unless the answer is `ok`.
    public func command(_ line: String) throws {
        let reply = try KafkaTestServer.command(line, to: control)
        guard reply == "ok" else { throw KafkaTestError("\(line): \(reply)") }
    }

    /// Creates a topic with a fresh unique name and returns it.
    public func createTopic(_ prefix: String, partitions: Int) throws -> String {
        let name = "dpone_test_\(prefix)_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        try command("create \(name) \(partitions)")
        return name
    }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
