import ArgumentParser
import Flow
import Foundation
import Manifest
import Pipeline

struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Show or reset a pipeline's checkpoint state.",
        subcommands: [Show.self, Reset.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the last durable state as JSON.")

        @Argument(help: "The pipeline manifest (YAML).")
        var manifest: String

        @Option(name: .customLong("state-dir"), help: "Directory of the file state store.")
        var stateDir: String?

        func run() async throws {
            let document = try ManifestCommand.loadOrExit(manifest)
            let store = StateStores.make(for: document, override: stateDir)
            guard let state = try await store.load(pipeline: document.name) else {
                print("no state for pipeline \(document.name) at \(store.location(pipeline: document.name))")
                return
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(state), as: UTF8.self))
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget the source positions: the next run reads from scratch (checkpoint numbering continues).")

        @Argument(help: "The pipeline manifest (YAML).")
        var manifest: String

        @Option(name: .customLong("state-dir"), help: "Directory of the file state store.")
        var stateDir: String?

        func run() async throws {
            let document = try ManifestCommand.loadOrExit(manifest)
            let store = StateStores.make(for: document, override: stateDir)
            let lock = try await StateStores.lock(for: document, override: stateDir)
            let kept = try await StateStores.reset(document: document, override: stateDir)
            await lock?.release()
            let numbering = kept.map { "; checkpoint numbering continues after \($0.checkpoint)" } ?? ""
            print("state of pipeline \(document.name) reset (\(store.location(pipeline: document.name)))\(numbering)")
        }
    }
}
