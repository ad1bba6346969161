import ConnectorKit
import Flow
import Foundation
import Manifest
import Testing

@testable import Pipeline

/// The contract layer of the source → sink → strategy matrix: every case's manifest validates (or
/// is refused with its documented diagnostic), builds its operators, and renders its sink's plan,
/// against committed golden files (`MatrixGolden/<case>.txt`; `DPONE_UPDATE_GOLDEN=1` rewrites
/// them). No server runs. `scripts/matrix.sh` filters the cases (`DPONE_MATRIX_SOURCE`, ...).
@Suite("Integration matrix: contract layer")
struct MatrixContractTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("MatrixGolden")
    static let all = IntegrationMatrix.cases()
    static let selected = IntegrationMatrix.select(all, environment: ProcessInfo.processInfo.environment)

    @Test func theMatrixHas200CasesDerivedFromTheRegistry() {
        #expect(Self.all.count == 200)
        #expect(Set(Self.all.map(\.id)).count == 200)
        func count(_ strategies: [MatrixStrategy]) -> Int { Self.all.filter { strategies.contains($0.strategy) }.count }
        #expect(count([.fullRefresh, .incrementalAppend, .incrementalMerge, .replace]) == 100)
        #expect(count([.snapshotDiff]) == 25)
        #expect(count([.partitionReplace, .scd2, .backfill]) == 60)
        #expect(Self.all.filter { $0.strategy == .partitionReplace }.allSatisfy { $0.sink != "kafka" })
        #expect(Self.all.filter { $0.strategy == .xmin }.map(\.source) == Array(repeating: "postgres", count: 5))
        #expect(Set(Self.all.filter { $0.strategy == .cdc }.map(\.source)) == ["postgres", "mssql"])
        #expect(Self.all.contains { $0.id == "postgres_to_clickhouse__incremental_merge" })
        #expect(Self.all.contains { $0.id == "kafka_to_bigquery__snapshot_diff" })
    }

    @Test func filtersSelectBySourceSinkStrategyAndCase() {
        let pgToCH = IntegrationMatrix.select(Self.all, environment: ["DPONE_MATRIX_SOURCE": "postgres", "DPONE_MATRIX_SINK": "clickhouse"])
        #expect(pgToCH.count == 10)
        let one = IntegrationMatrix.select(Self.all, environment: ["DPONE_MATRIX_CASE": "rest_to_kafka__full_refresh"])
        #expect(one.map(\.id) == ["rest_to_kafka__full_refresh"])
        #expect(IntegrationMatrix.select(Self.all, environment: ["DPONE_MATRIX_STRATEGY": "scd2,backfill"]).count == 40)
    }

    @Test(arguments: selected.map(\.id))
    func caseMatchesItsGolden(_ id: String) async throws {
        let c = try #require(Self.all.first { $0.id == id })
        let report = await MatrixContract.run(c)
        #expect(report.agrees, "\(id) validated, then its operators were refused: \(report.diagnostic ?? "")")
        let url = Self.golden.appendingPathComponent("\(id).txt")
        if ProcessInfo.processInfo.environment["DPONE_UPDATE_GOLDEN"] == "1" {
            try report.text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(report.text == expected, "MatrixGolden/\(id).txt differs (DPONE_UPDATE_GOLDEN=1 rewrites it)")
    }

    /// What the documented refusals say: a strategy a sink cannot express, a mode this build does not
    /// run, a change read it does not read yet.
    @Test func unsupportedCombinationsAreRefusedByValidationWithTheirDiagnostic() async throws {
        let expectations: [(String, String)] = [
            ("postgres_to_kafka__replace", "strategy mode 'replace' is not supported by a kafka sink"),
            ("kafka_to_postgres__backfill", "a kafka source cannot be backfilled: each chunk re-reads a range of rows"),
            ("postgres_to_bigquery__cdc", "strategy mode 'cdc_apply' is not supported by a bigquery sink"),
            ("mssql_to_postgres__cdc", "SQL Server CDC reading is not in this build yet"),
        ]
        for (id, message) in expectations {
            let c = try #require(Self.all.first { $0.id == id })
            let report = await MatrixContract.run(c)
            #expect(report.outcome == .refused, "\(id): \(report.outcome)")
            #expect(report.diagnostic?.contains(message) == true, "\(id): \(report.diagnostic ?? "")")
            #expect(report.diagnostic?.contains("matrix/\(id).yml:") == true, "a refusal names the file and line: \(report.diagnostic ?? "")")
        }
    }

    @Test func aRunWritesTheCoverageArtifact() async throws {
        let dir = NSTemporaryDirectory() + "dpone-matrix-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var entries: [MatrixArtifact.Entry] = []
        for c in Self.all {
            let report = await MatrixContract.run(c)
            entries.append(
                MatrixArtifact.Entry(
                    id: c.id, source: c.source.rawValue, sink: c.sink.rawValue, strategy: c.strategy.rawValue,
                    outcome: report.outcome == .planned ? "pass" : report.outcome == .refused ? "refused" : "fail", detail: report.diagnostic))
        }
        let target = ProcessInfo.processInfo.environment["DPONE_MATRIX_ARTIFACT_DIR"] ?? dir
        let path = try MatrixArtifact.write(
            entries, layer: "contract", slug: "contract", command: "scripts/matrix.sh --artifact", environment: ["layer": "contract (no server)", "cases": "\(Self.all.count)"],
            directory: target)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("200 cases"))
        #expect(text.contains("## incremental_merge"))
        let merge = try #require(text.components(separatedBy: "## incremental_merge").last?.components(separatedBy: "## ").first)
        #expect(merge.contains("| postgres | pass | pass | pass | pass | pass |"), "postgres incremental_merge plans into every sink: \(merge)")
        let backfill = try #require(text.components(separatedBy: "## backfill").last?.components(separatedBy: "## ").first)
        #expect(backfill.contains("| postgres | pass | pass | pass | pass | — |"), "a database source backfills into every database sink: \(backfill)")
        #expect(backfill.contains("| kafka | refused | refused | refused | refused | — |"), "a topic cannot be re-read by chunks: \(backfill)")
        // Every refusal is one of the documented kinds.
        let documented = [
            "is not supported by a", "reads only the messages after its committed offsets", "SQL Server CDC reading is not in this build yet",
            "the source sends deletes", "cannot be backfilled",
        ]
        for entry in entries where entry.outcome == "refused" {
            #expect(documented.contains { entry.detail?.contains($0) == true }, "\(entry.id): \(entry.detail ?? "")")
        }
        #expect(!entries.contains { $0.outcome == "fail" }, "\(entries.filter { $0.outcome == "fail" }.map(\.id))")
    }
}
