import ArgumentParser
import Dispatch
import Flow
import Foundation
import Manifest
import Pipeline

/// A duration on the command line: `5s`, `500ms`, `2m`, `1h`, or plain seconds.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let seconds: Double
    let text: String

    var defaultValueDescription: String { text }

    init?(argument: String) {
        text = argument
        guard let v = ManifestDuration.seconds(argument) else { return nil }
        seconds = v
    }
}

struct StreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Run a pipeline continuously, checkpointing every few seconds, until stopped.",
        discussion: """
            Sources: Kafka (consumer groups) and Postgres tables through logical replication \
            (source.options.cdc). SIGINT or SIGTERM finishes the current checkpoint (publish, state, \
            commit upstream) and exits 0; a restart resumes from there. Workers of one pipeline \
            (--worker) share the Kafka consumer group and split the partitions. Exit codes: 0 stopped cleanly, 1 the run failed, \
            2 bad usage or invalid manifest.
            """
    )

    @Argument(help: "The pipeline manifest (YAML).")
    var manifest: String

    @Option(name: .customLong("checkpoint-interval"), help: "Time between checkpoints (5s, 500ms, 1m).")
    var checkpointInterval: DurationArgument = DurationArgument(argument: "5s")!

    @Option(name: .customLong("max-duration"), help: "Stop cleanly after this long (e.g. 10m).")
    var maxDuration: DurationArgument?

    @Option(help: "This worker's name: state and ledger identity <pipeline>@<worker>.")
    var worker: String = "0"

    @Option(help: "Result format: text or json.")
    var format: OutputFormat = .text

    @Option(help: "Status line: auto (live on a terminal), plain (a line every 5 s), none.")
    var progress: ProgressMode = .auto

    @Option(name: .customLong("state-dir"), help: "Directory of the file state store.")
    var stateDir: String?

    @Option(name: .customLong("metrics-port"), help: "Serve Prometheus metrics at http://ADDRESS:PORT/metrics.")
    var metricsPort: Int?

    @Option(name: .customLong("metrics-address"), help: "Address the metrics endpoint listens on (0.0.0.0: all interfaces).")
    var metricsAddress: String = "127.0.0.1"

    func validate() throws {
        if let metricsPort, !(1...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be a port from 1 to 65535, got \(metricsPort)")
        }
        // The worker's name becomes part of file names (the state file) and of the ledger identity.
        guard Self.isValidWorker(worker) else {
            throw ValidationError(
                "--worker must be 1 to 64 letters, digits, '_', '-' or '.', not starting with '.', got '\(worker)'")
        }
    }

    static func isValidWorker(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64, name.first != "." else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_-.".unicodeScalars.contains($0)) }
    }

    func run() async throws {
        let document = try ManifestCommand.loadOrExit(manifest)
        let stop = StopSignal()
        // A parent may start us with these signals blocked (Swift's Process does from async
        // contexts): unblock them so a stop request is delivered.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let handlers = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.stop() }
            source.resume()
            return source
        }
        defer { handlers.forEach { $0.cancel() } }
        let timer = maxDuration.map { limit in
            Task.detached {
                try? await Task.sleep(for: .milliseconds(Int(limit.seconds * 1000)))
                stop.stop()
            }
        }
        defer { timer?.cancel() }
        var metrics: MetricsServer?
        if let metricsPort {
            do {
                metrics = try MetricsServer(address: metricsAddress, port: metricsPort)
                FileHandle.standardError.write(Data("metrics on http://\(metricsAddress):\(metrics!.port)/metrics\n".utf8))
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        defer { metrics?.stop() }
        let reporter = ProgressReporter(mode: progress)
        let result = await StreamPipeline.run(
            document: document,
            options: StreamOptions(
                stateDirectory: stateDir, checkpointInterval: checkpointInterval.seconds, worker: worker, stop: stop,
                progress: reporter.isEnabled ? reporter.update : nil))
        reporter.finish()
        switch format {
        case .json: print(result.jsonString())
        case .text: print(result.textSummary())
        }
        if result.status != .succeeded { throw ExitCode(result.exitCode) }
    }
}
