import Foundation
import Testing

@Suite(.enabled(if: binaryBuilt, "dpone binary not built: run `swift build` first (scripts/test.sh does)"))
struct HelpGoldenTests {
    @Test(arguments: [
        ["--help"],
        ["batch", "--help"],
        ["stream", "--help"],
        ["manifest", "--help"],
        ["manifest", "validate", "--help"],
        ["manifest", "render", "--help"],
        ["state", "--help"],
        ["state", "show", "--help"],
        ["state", "reset", "--help"],
        ["backfill", "--help"],
        ["backfill", "status", "--help"],
        ["resume", "--help"],
    ])
    func helpMatchesGolden(arguments: [String]) async throws {
        let out = try await CLI.run(arguments)
        #expect(out.status == 0)
        #expect(out.stderr == "")
        let name = "help-" + arguments.filter { $0 != "--help" }.joined(separator: "-")
        try CLI.expectGolden(out.stdout, (name == "help-" ? "help-dpone" : name) + ".txt")
    }

    @Test func versionPrintsTheVersion() async throws {
        let out = try await CLI.run(["--version"])
        #expect(out.status == 0)
        #expect(out.stdout.hasPrefix("dpone "))
    }

    @Test func badUsageExitsTwo() async throws {
        let missing = try await CLI.run(["batch"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("Missing expected argument '<manifest>'"))
        let unknown = try await CLI.run(["batch", "x.yml", "--format", "xml"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("xml"))
        let noCommand = try await CLI.run(["frobnicate"])
        #expect(noCommand.status == 2)
    }

    @Test func aMissingManifestFileExitsTwo() async throws {
        let out = try await CLI.run(["batch", "/nonexistent/pipeline.yml"])
        #expect(out.status == 2)
        #expect(out.stderr.contains("/nonexistent/pipeline.yml"))
    }

    /// `dpone stream` refuses, as usage errors and before reading the manifest, a metrics port
    /// outside 1...65535 and a worker name that could reach file paths (`../x`, `a/b`, `.hidden`).
    @Test func streamRefusesABadMetricsPortOrWorkerName() async throws {
        for port in ["0", "65536", "-1"] {
            let out = try await CLI.run(["stream", "missing.yml", "--metrics-port=\(port)"])
            #expect(out.status == 2, "port \(port): \(out.stderr)")
            #expect(out.stderr.contains("--metrics-port must be a port from 1 to 65535"), "\(out.stderr)")
        }
        for worker in ["../x", "a/b", ".hidden", String(repeating: "w", count: 65), "ü"] {
            let out = try await CLI.run(["stream", "missing.yml", "--worker=\(worker)"])
            #expect(out.status == 2, "worker \(worker): \(out.stderr)")
            #expect(out.stderr.contains("--worker must be"), "\(out.stderr)")
        }
        let fine = try await CLI.run(["stream", "missing.yml", "--worker", "eu-1.a_b"])
        #expect(fine.stderr.contains("cannot read the manifest") && !fine.stderr.contains("--worker must be"), "a valid worker passes: \(fine.stderr)")
    }
}
