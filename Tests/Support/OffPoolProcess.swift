import Foundation

/// Runs a child process to completion without holding one of Swift's cooperative threads. The pool
/// has one thread per core (two here): a test blocked in `waitUntilExit` or
/// `readDataToEndOfFile` for a python interop run or a ClickHouse start stalls every other test's
/// awaits meanwhile (a replication test then missed its walsender's keepalives, a 300 ms timer woke
/// 14 s late). Output goes to temporary files, which never fill like a pipe.
public enum OffPoolProcess {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, mergeStderr: Bool = false
    ) async throws -> Output {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("dpone-proc-\(UUID().uuidString)")
        let out = base.appendingPathExtension("out")
        let err = base.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        let outHandle = try FileHandle(forWritingTo: out)
        process.standardOutput = outHandle
        process.standardError = mergeStderr ? outHandle : try FileHandle(forWritingTo: err)
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
