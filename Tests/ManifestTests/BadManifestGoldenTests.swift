import Foundation
import FilesConnector
import Formats
import KafkaConnector
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// Every `Fixtures/bad/X.yml` fails with exactly the text in `X.expected` (all errors, sorted by position).
///
/// Parsed with an empty environment and named by its package-root-relative path, so the CLI golden
/// tests (run from the package root with `DPONE_CONN_*` unset) can reuse the same `.expected` files.
/// Set `DPONE_UPDATE_GOLDEN=1` to rewrite the expectations (then review the diff).
@Suite struct BadManifestGoldenTests {
    static let names = FixtureFiles.names("bad")

    @Test func thereAreEnoughBadFixtures() {
        #expect(Self.names.count >= 13)
    }

    @Test(arguments: names) func badManifestFailsWithGoldenMessage(_ name: String) throws {
        let yaml = try FixtureFiles.text("bad", name)
        let path = FixtureFiles.displayPath("bad", name)
        let errors: ManifestErrors
        do {
            _ = try ManifestLoader.parse(yaml: yaml, path: path, environment: [:])
            Issue.record("\(name).yml parsed without errors")
            return
        } catch {
            errors = error
        }
        let actual = errors.description + "\n"
        let expectedURL = FixtureFiles.url("bad", name, ext: "expected")
        if ProcessInfo.processInfo.environment["DPONE_UPDATE_GOLDEN"] == "1" {
            try actual.write(to: expectedURL, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(actual == expected)
    }

    @Test func loadingFromDiskNamesTheGivenPath() throws {
        let url = FixtureFiles.url("bad", "missing_name")
        do {
            _ = try ManifestLoader.load(path: url.path, environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.first?.file == url.path)
            #expect(error.first?.line == 1)
            #expect(error.first?.message == "missing required key 'name'")
        }
    }

    @Test func aMissingFileIsAManifestError() {
        do {
            _ = try ManifestLoader.load(path: "/nonexistent/dpone.yml", environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.first?.headline == "/nonexistent/dpone.yml:1:1: error: cannot read the manifest")
            #expect(error.dponeError.kind == .manifest)
            #expect(error.dponeError.exitCode == 2)
        }
    }
}
