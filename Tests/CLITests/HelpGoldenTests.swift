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
}
