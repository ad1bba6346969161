import Foundation
import FilesConnector
import Formats
import KafkaConnector
import Manifest
import Pipeline
import PostgresConnector
import Testing

@Suite struct RenderTests {
    static let yaml = """
        name: r
        source:
          type: postgres
          connection_ref: pg
          table: {schema: public, name: t}
        sink:
          type: postgres
          connection: {host: h, username: u, password: "${PW}"}
          table: raw.t
          strategy: {mode: scd2, unique_key: [id]}
        """
    static let env = ["DPONE_CONN_PG_URL": "postgresql://a:Secret1@h/db", "PW": "Secret2"]

    @Test func jsonIsStableAndMasksPasswords() throws {
        let doc = try ManifestLoader.parse(yaml: Self.yaml, path: "r.yml", environment: Self.env)
        let json = try ManifestRenderer.render(doc, as: .json)
        #expect(!json.contains("Secret1"))
        #expect(!json.contains("Secret2"))
        #expect(json.contains("\"url\" : \"postgresql://a:***@h/db\""))
        #expect(json.contains("\"password\" : \"***\""))
        #expect(json.contains("\"mode\" : \"scd2\""))
        #expect(json.contains("\"unique_key\" : ["))
        #expect(try doc.renderedJSON() == json)
        // Its sections read back (with the redacted connections).
        #expect(try Self.section(json, String.self, "name") == doc.name)
        #expect(try Self.section(json, StrategyConfig.self, "sink", "strategy") == doc.sink.strategy)
        let connection = try Self.section(json, ConnectionConfig.self, "source", "connection")
        #expect(connection.resolved.redactedURL == doc.source.connection?.resolved.redactedURL)
    }

    /// The value at `path` of rendered JSON, decoded as a `T`.
    static func section<T: Decodable>(_ json: String, _ type: T.Type, _ path: String...) throws -> T {
        var value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        for key in path { value = try #require((value as? [String: Any])?[key]) }
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: value, options: .fragmentsAllowed))
    }

    @Test func yamlMasksPasswords() throws {
        let doc = try ManifestLoader.parse(yaml: Self.yaml, path: "r.yml", environment: Self.env)
        let yaml = try doc.renderedYAML()
        #expect(!yaml.contains("Secret1"))
        #expect(!yaml.contains("Secret2"))
        #expect(yaml.contains("name: r"))
    }

    @Test func transformsRenderInTheirManifestShape() throws {
        let doc = try ManifestLoader.parse(
            yaml: FixtureFiles.text("good", "files_full"), path: "f.yml", environment: ["DATA_DIR": "d"])
        let json = try doc.renderedJSON()
        #expect(json.contains("\"type\" : \"rename\""))
        #expect(json.contains("\"amt\" : \"amount\""))
        #expect(json.contains("\"amount\" : \"decimal(14,2)\""))
        #expect(json.contains("\"allow_lossy\" : true"))
        let transforms = try Self.section(json, [TransformConfig].self, "transforms")
        #expect(Set(transforms.map(\.kind)) == Set(doc.transforms.map(\.kind)))
        // The connector's own options render under its key (the files layout under `file`).
        #expect(try Self.section(json, FileOptions.self, "source", "options", "file") == doc.source.options.file)
    }
}
