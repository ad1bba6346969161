import Foundation
import Yams

/// Reads a manifest file into a validated `ManifestDocument`.
///
/// Every problem is reported, not just the first: the thrown `ManifestErrors` holds them all, sorted
/// by position. `${VAR}` references and `connection_ref`s resolve from `environment`. What each
/// endpoint `type` means (its addressing, options and strategies) comes from `connectors`: the
/// build's connector registry (Pipeline's `ManifestLoader.load(path:)` passes it).
public enum ManifestLoader {
    /// Loads the manifest at `path` (errors name the file as `path` was given).
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment, connectors: [any EndpointSpec]
    ) throws(ManifestErrors) -> ManifestDocument {
        let yaml: String
        do {
            yaml = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ManifestErrors([
                ManifestError(
                    file: path, line: 1, column: 1, keyPath: "", message: "cannot read the manifest",
                    hint: (error as NSError).localizedDescription)
            ])
        }
        return try parse(yaml: yaml, path: path, environment: environment, connectors: connectors)
    }

    /// Parses manifest text; `path` is only used to locate errors.
    public static func parse(
        yaml: String, path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        connectors: [any EndpointSpec]
    ) throws(ManifestErrors) -> ManifestDocument {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ManifestErrors([ManifestError.yamlSyntax(error, file: path, yaml: yaml)])
        }
        guard let root else {
            throw ManifestErrors([
                ManifestError(
                    file: path, line: 1, column: 1, keyPath: "", message: "the manifest is empty",
                    hint: "a manifest needs at least 'name', 'source' and 'sink'")
            ])
        }
        let context = DecodingContext(file: path, environment: environment)
        let document = ManifestDecoder(ctx: context, specs: connectors).document(NodeRef(node: root, path: .root, keyMark: nil))
        guard let document, context.errors.isEmpty else {
            var errors = context.errors
            if errors.isEmpty {
                errors = [ManifestError(file: path, line: 1, column: 1, keyPath: "", message: "invalid manifest")]
            }
            throw ManifestErrors(errors)
        }
        return document
    }
}
