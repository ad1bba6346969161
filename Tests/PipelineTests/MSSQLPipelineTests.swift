import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import Testing

/// `type: mssql` through the real pipeline, without a server: a bad option is a manifest error with
/// file, line, column and key; an unreachable server fails the run with a connection error whose
/// password is masked; neither writes the state.
@Suite(.tags(.integrationMSSQL), IntegrationGate.integration.trait)
struct MSSQLPipelineTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-mssql-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func manifest(_ options: String, path: String = "m.yml") throws -> ManifestDocument {
        try ManifestLoader.parse(
            yaml: """
                name: mssql-orders
                source: {type: files, path: \(dir)/in.csv}
                sink:
                  type: mssql
                  connection: {url: "mssql://sa:Hunter2;pw@127.0.0.1:1/warehouse"}
                  table: {schema: sales, name: orders}
                  strategy: {mode: incremental_merge, unique_key: [id]}
                  options: \(options)
                state: {dir: \(dir)/state}
                """, path: "\(dir)/\(path)", environment: [:])
    }

    @Test func aBadOptionNamesFileLineColumnAndKey() throws {
        do {
            _ = try manifest("{driver: \"ODBC Driver 18 for SQL Server\", encrpyt: no}")
            Issue.record("an unknown option was accepted")
        } catch let errors as ManifestErrors {
            let error = try #require(errors.errors.first)
            #expect(error.file.hasSuffix("m.yml") && error.line == 8 && error.column > 1, "\(errors)")
            #expect(error.keyPath == "sink.options.encrpyt")
            #expect(error.message == "unknown key 'encrpyt'" && error.hint == "did you mean 'encrypt'?", "\(errors)")
        }
        #expect(throws: ManifestErrors.self) { try manifest("{encrypt: maybe}") }
    }

    @Test func anUnreachableServerFailsWithTheConnectionNamedAndThePasswordMasked() async throws {
        let sysini = ProcessInfo.processInfo.environment["ODBCSYSINI"] ?? ""
        try #require(!sysini.isEmpty, "export ODBCSYSINI=$(scripts/odbc.sh) to register the SQL Server drivers")
        try "id,amount\n1,2.5\n".write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        for driver in ["ODBC Driver 18 for SQL Server", "FreeTDS"] {
            let result = await BatchPipeline.run(
                document: try manifest("{driver: \"\(driver)\", encrypt: \"no\"}"), options: BatchOptions())
            #expect(result.status == .failed, "\(driver)")
            let text = result.jsonString()
            #expect(result.error?.contains("[08001]") == true, "\(driver): \(result.error ?? "")")
            #expect(!text.contains("Hunter2"), "\(driver): the password never appears: \(text)")
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/state/mssql-orders.json"), "no state was written")
        }
    }
}
