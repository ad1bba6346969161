import Foundation

/// Locates test fixtures next to this file (not bundle resources), and the path errors should name.
enum FixtureFiles {
    /// `Tests/ManifestTests/Fixtures`, absolute.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// The package-root-relative prefix golden messages use (the CLI golden tests run from the package root).
    static let displayDirectory = "Tests/ManifestTests/Fixtures"

    /// Fixture base names (without `.yml`) in `Fixtures/<group>`, sorted.
    static func names(_ group: String) -> [String] {
        let dir = directory.appendingPathComponent(group)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasSuffix(".yml") }.map { String($0.dropLast(4)) }.sorted()
    }

    static func url(_ group: String, _ name: String, ext: String = "yml") -> URL {
        directory.appendingPathComponent(group).appendingPathComponent("\(name).\(ext)")
    }

    static func text(_ group: String, _ name: String, ext: String = "yml") throws -> String {
        try String(contentsOf: url(group, name, ext: ext), encoding: .utf8)
    }

    static func displayPath(_ group: String, _ name: String) -> String {
        "\(displayDirectory)/\(group)/\(name).yml"
    }
}
