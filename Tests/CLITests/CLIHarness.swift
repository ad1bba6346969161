import DponeTestSupport
import Flow
import Foundation
import Testing

/// Runs the built `dpone` binary (`DPONE_BIN`, else `.build/debug/dpone` beside this package).
struct CLI {
    struct Output {
        var status: Int32
        /// True when the process was killed by a signal (`status` is then the signal number).
        var killed: Bool
        var stdout: String
        var stderr: String

        /// Whether the process killed itself at fault point `fault` (`DPONE_FAULT`): the line the
        /// point writes before the kill is on standard error and the process died of SIGKILL.
        func died(at fault: String) -> Bool {
            killed && status == SIGKILL && FaultPoint(rawValue: fault).map { stderr.contains($0.reachedLine) } == true
        }
    }

    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: String {
        if let bin = ProcessInfo.processInfo.environment["DPONE_BIN"], !bin.isEmpty { return bin }
        return packageRoot.appendingPathComponent(".build/debug/dpone").path
    }

    static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// Runs dpone with `arguments` in `directory`, with a fixed terminal width and no inherited
    /// fault injection or connection variables. Output goes to files and the exit is awaited with
    /// `Task.sleep`, never by blocking: the suite's CLI tests run in parallel, and each blocked
    /// cooperative thread (there are as many as cores) starved every other test (in CI a
    /// replication test's walsender timed out behind them).
    static func run(
        _ arguments: [String], in directory: String? = nil, environment extra: [String: String] = [:],
        executable: String = binary
    ) async throws -> Output {
        let dir = NSTemporaryDirectory() + "dpone-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DPONE_") }
        env["COLUMNS"] = "100"
        for (k, v) in extra { env[k] = v }
        process.environment = env
        let out = "\(dir)/out"
        let err = "\(dir)/err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return Output(
            status: process.terminationStatus, killed: process.terminationReason == .uncaughtSignal,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Compares `actual` with the golden file `Golden/<name>`; `DPONE_UPDATE_GOLDEN=1` rewrites it.
    static func expectGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = packageRoot.appendingPathComponent("Tests/CLITests/Golden/\(name)")
        if ProcessInfo.processInfo.environment["DPONE_UPDATE_GOLDEN"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(actual == expected, "golden \(name) differs", sourceLocation: sourceLocation)
    }
}

/// Skips when the binary is not built (plain `swift test` without `swift build`); the README's test
/// command always builds it first.
let binaryBuilt = CLI.isBuilt

/// A `--metrics-port` endpoint's text (curl), and the value of one sample in it.
struct MetricsScrape {
    let text: String

    init(port: Int) async throws {
        text = try await OffPoolProcess.run("/usr/bin/curl", ["-sf", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"]).stdout
    }

    /// The value of the sample `series` (name plus rendered labels, e.g. `x{slot="s"}`), if present.
    func value(_ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}
