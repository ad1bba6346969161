import Foundation
import Testing

/// Every bad manifest fixture: `dpone manifest validate` and `dpone batch` print exactly the expected
/// file:line:column message and exit 2, touching nothing.
@Suite(.enabled(if: binaryBuilt, "dpone binary not built: run `swift build` first (scripts/test.sh does)"))
struct ManifestErrorGoldenTests {
    static let fixtureDirectory = CLI.packageRoot.appendingPathComponent("Tests/ManifestTests/Fixtures/bad").path

    static var fixtures: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtureDirectory)) ?? [])
            .filter { $0.hasSuffix(".yml") }.sorted()
    }

    @Test func thereAreAtLeastEightBadManifests() {
        #expect(Self.fixtures.count >= 8)
    }

    @Test(arguments: fixtures)
    func validateReportsFileLineColumnAndExitsTwo(fixture: String) async throws {
        let expected = try String(
            contentsOfFile: Self.fixtureDirectory + "/" + fixture.replacingOccurrences(of: ".yml", with: ".expected"),
            encoding: .utf8)
        // Run from the package root so the printed path is the relative one the fixtures expect.
        let relative = "Tests/ManifestTests/Fixtures/bad/\(fixture)"
        for command in [["manifest", "validate"], ["batch"]] {
            let out = try await CLI.run(command + [relative], in: CLI.packageRoot.path, environment: ManifestFixtureEnv.values)
            #expect(out.status == 2, "\(command) \(fixture)")
            #expect(out.stdout == "", "\(command) \(fixture)")
            #expect(
                out.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                    == expected.trimmingCharacters(in: .whitespacesAndNewlines), "\(command) \(fixture)")
            #expect(out.stderr.contains("\(relative):"), "the message names the file")
        }
    }
}

/// Variables the fixtures may rely on being set (the unset ones are what the fixtures test).
enum ManifestFixtureEnv {
    static let values: [String: String] = [:]
}
