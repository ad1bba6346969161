import Foundation
import Manifest
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
        // The JSON reads back (with the redacted connections).
        let back = try JSONDecoder().decode(ManifestDocument.self, from: Data(json.utf8))
        #expect(back.name == doc.name)
        #expect(back.sink.strategy == doc.sink.strategy)
        #expect(back.source.connection?.resolved.redactedURL == doc.source.connection?.resolved.redactedURL)
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
        let back = try JSONDecoder().decode(ManifestDocument.self, from: Data(json.utf8))
        #expect(Set(back.transforms.map(\.kind)) == Set(doc.transforms.map(\.kind)))
        #expect(back.source.options == doc.source.options)
    }
}
