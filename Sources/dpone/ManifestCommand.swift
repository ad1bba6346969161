import ArgumentParser
import Flow
import Foundation
import Manifest

struct ManifestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Validate or render a manifest.",
        subcommands: [Validate.self, Render.self]
    )

    /// Loads a manifest, or prints every error (file:line:column) to standard error and exits 2.
    static func loadOrExit(_ path: String) throws -> ManifestDocument {
        do {
            return try ManifestLoader.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a manifest; print every error with file:line:column and exit 2 if any.")

        @Argument(help: "The pipeline manifest (YAML).")
        var manifest: String

        func run() async throws {
            let document = try ManifestCommand.loadOrExit(manifest)
            print("\(manifest): ok (pipeline \(document.name): \(document.summary))")
        }
    }

    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective manifest as JSON, with ${VAR}s resolved and secrets masked.")

        @Argument(help: "The pipeline manifest (YAML).")
        var manifest: String

        func run() async throws {
            let document = try ManifestCommand.loadOrExit(manifest)
            print(try document.renderedJSON())
        }
    }
}
