import Foundation
import Yams

/// The output formats of `dpone manifest render`.
public enum ManifestRenderFormat: String, Sendable, CaseIterable {
    case json
    case yaml
}

/// Prints the effective manifest: defaults applied, `${VAR}`s and connections resolved, passwords `***`.
public enum ManifestRenderer {
    /// JSON is pretty-printed with sorted keys (stable output); YAML keeps the model's field order.
    public static func render(_ document: ManifestDocument, as format: ManifestRenderFormat) throws -> String {
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
        case .yaml:
            return try YAMLEncoder().encode(document)
        }
    }
}
