import DponeTestSupport
import Flow
import Foundation
import Testing

/// For every `DPONE_FAULT` point, a files -> files run SIGKILLed there and re-run produces exactly the
/// output of an uninterrupted run: nothing lost, nothing doubled.
@Suite(.tags(.integrationReplay), IntegrationGate.replay.trait, .enabled(if: binaryBuilt, "dpone binary not built"))
struct ReplayTests {
    enum Strategy: String, CaseIterable, Sendable {
        case incrementalAppend = "incremental_append"
        case fullRefresh = "full_refresh"
    }

    struct Workspace {
        let dir: String

        init(strategy: Strategy) throws {
            dir = NSTemporaryDirectory() + "dpone-replay-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let sinkPath = strategy == .incrementalAppend ? "\(dir)/out" : "\(dir)/out.csv"
            let manifest = """
                name: replay
                source:
                  type: files
                  path: \(dir)/in.csv
                  options:
                    \(strategy == .incrementalAppend ? "incremental_column: id" : "")
                    batch_rows: 1000
                    schema:
                      - {name: id, type: int64, nullable: false}
                      - {name: payload, type: string}
                      - {name: amount, type: "decimal(10,2)"}
                sink:
                  type: files
                  path: \(sinkPath)
                  strategy: {mode: \(strategy.rawValue)}
                state: {dir: \(dir)/state}
                """
            try manifest.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)
            try "id,payload,amount\n".write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        }

        func appendRows(_ range: ClosedRange<Int>) throws {
            let text = range.map { "\($0),\"row \($0), quoted\",\($0 % 1000).\(String(format: "%02d", $0 % 100))\n" }.joined()
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/in.csv"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
            try handle.close()
        }

        func run(fault: String? = nil) async throws -> CLI.Output {
            try await CLI.run(
                ["batch", "\(dir)/pipeline.yml", "--progress", "none"],
                environment: fault.map { ["DPONE_FAULT": $0] } ?? [:])
        }

        /// Every published row, in publication order (part files in name order, headers dropped).
        func output() throws -> [String] {
            let fm = FileManager.default
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: "\(dir)/out", isDirectory: &isDir), isDir.boolValue {
                let parts = try fm.contentsOfDirectory(atPath: "\(dir)/out").sorted()
                #expect(parts.allSatisfy { $0.hasPrefix("part-") }, "no temp file is left published: \(parts)")
                return try parts.flatMap {
                    try String(contentsOfFile: "\(dir)/out/\($0)", encoding: .utf8).split(separator: "\n").dropFirst()
                        .map(String.init)
                }
            }
            return try String(contentsOfFile: "\(dir)/out.csv", encoding: .utf8).split(separator: "\n").dropFirst()
                .map(String.init)
        }
    }

    /// Two loads (5000 rows, then 2500 more), uninterrupted: incremental_append reads only the new
    /// rows the second time, full_refresh rereads and replaces everything.
    func reference(_ strategy: Strategy) async throws -> [String] {
        let w = try Workspace(strategy: strategy)
        try w.appendRows(1...5000)
        #expect(try await w.run().status == 0)
        try w.appendRows(5001...7500)
        #expect(try await w.run().status == 0)
        return try w.output()
    }

    @Test(arguments: FaultPoint.allCases.map(\.rawValue), Strategy.allCases)
    func killedAtAFaultPointAndRerunMatchesAnUninterruptedRun(fault: String, strategy: Strategy) async throws {
        let expected = try await reference(strategy)
        #expect(!expected.isEmpty)

        let w = try Workspace(strategy: strategy)
        try w.appendRows(1...5000)
        let killed = try await w.run(fault: fault)
        #expect(killed.died(at: fault), "the run died at \(fault): \(killed.stderr)")
        #expect(try await w.run().status == 0)

        try w.appendRows(5001...7500)
        let killedAgain = try await w.run(fault: fault)
        #expect(killedAgain.died(at: fault))
        let rerun = try await w.run()
        #expect(rerun.status == 0, "\(rerun.stderr)")

        let actual = try w.output()
        #expect(actual.count == expected.count, "no lost or doubled rows at \(fault)")
        let firstDifference = actual.indices.first { $0 < expected.count && actual[$0] != expected[$0] }
        #expect(firstDifference == nil, "output differs from the uninterrupted run at row \(firstDifference ?? -1)")
        let ids = actual.map { Int($0.split(separator: ",")[0])! }
        #expect(ids == Array(1...7500), "every row exactly once, in order")
    }
}
