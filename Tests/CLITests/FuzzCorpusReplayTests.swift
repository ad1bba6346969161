import Foundation
import Testing

let fuzzBinaryPath = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("dpone-fuzz").path
let fuzzBuilt = FileManager.default.isExecutableFile(atPath: fuzzBinaryPath)

/// Every committed fuzz input (`Fuzz/corpus/<target>/`: the seeds, and each crash found by
/// `scripts/fuzz.sh` as `regress-*`) replays through its decoder without a crash, in the normal
/// build of `dpone-fuzz` (beside `dpone`), so a fixed crash stays fixed without libFuzzer.
@Suite(.enabled(if: fuzzBuilt, "dpone-fuzz not built")) struct FuzzCorpusReplayTests {
    static var fuzzBinary: String { fuzzBinaryPath }
    static let corpus = CLI.packageRoot.appendingPathComponent("Fuzz/corpus")
    static let targets = [
        "pgoutput", "copy-binary", "clickhouse-native", "clickhouse-compressed", "avro", "protobuf", "json-schema",
        "confluent-wire", "csv", "jsonl", "manifest",
    ]

    @Test(arguments: targets)
    func everyCommittedInputReplaysWithoutACrash(target: String) async throws {
        // The manifest target's seeds are the manifest tests' fixtures and the examples.
        let inputs =
            target == "manifest"
            ? ["Tests/ManifestTests/Fixtures/good", "Tests/ManifestTests/Fixtures/bad", "examples"].map {
                CLI.packageRoot.appendingPathComponent($0).path
            }
            : [Self.corpus.appendingPathComponent(target).path]
        let files = inputs.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? [] }
        #expect(!files.isEmpty, "\(target) has a committed seed corpus")
        let run = try await CLI.run(inputs, environment: ["DPONE_FUZZ_TARGET": target], executable: Self.fuzzBinary)
        #expect(run.status == 0 && !run.killed, "\(run.stderr.suffix(2000))")
        #expect(run.stdout.contains("\(target): replayed \(files.count) inputs without a crash"), "\(run.stdout)")
    }

    @Test func anUnknownTargetIsAUsageError() async throws {
        let run = try await CLI.run([], environment: ["DPONE_FUZZ_TARGET": "nope"], executable: Self.fuzzBinary)
        #expect(run.status == 2)
        #expect(run.stderr.contains("set DPONE_FUZZ_TARGET to one of: pgoutput, copy-binary"))
    }
}
