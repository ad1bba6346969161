import Flow
import FilesConnector
import Formats
import KafkaConnector
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// A strategy that removes target rows a run did not read is refused for a source that reads only
/// what changed (the data-loss defect: an xmin source into snapshot_diff deleted every unchanged row).
@Suite struct PartialReadRuleTests {
    func firstError(_ yaml: String) -> ManifestError? {
        do {
            _ = try ManifestLoader.parse(yaml: yaml, path: "p.yml", environment: [:])
            return nil
        } catch {
            return error.first
        }
    }

    /// Every source mode that reads only part of its data after the first run, as a source mapping.
    static let partialSources: [(name: String, yaml: String, reason: String)] = [
        ("xmin", "{type: postgres, connection: {url: 'postgresql://h/d'}, table: s.t, options: {incremental_strategy: xmin}}", "incremental_strategy 'xmin'"),
        ("pg_cursor", "{type: postgres, connection: {url: 'postgresql://h/d'}, table: s.t, options: {incremental_column: id}}", "incremental_column 'id'"),
        ("ch_cursor", "{type: clickhouse, connection: {url: 'http://h:8123/'}, table: d.t, options: {incremental_column: id}}", "incremental_column 'id'"),
        ("file_cursor", "{type: files, path: a.csv, options: {incremental_column: id}}", "incremental_column 'id'"),
        ("kafka", "{type: kafka, connection: {url: 'kafka://127.0.0.1:9092'}, topic: t}", "a kafka source"),
    ]

    /// Strategies that remove rows missing from a run, with the key the refusal points at.
    static let removingStrategies: [(yaml: String, keyPath: String, prefix: String)] = [
        ("{mode: snapshot_diff, unique_key: id}", "sink.strategy.mode", "snapshot_diff with delete_policy 'hard_delete'"),
        ("{mode: snapshot_diff, unique_key: id, diff: {delete_policy: soft_delete}}", "sink.strategy.diff.delete_policy", "snapshot_diff with delete_policy 'soft_delete'"),
        ("{mode: scd2, unique_key: id}", "sink.strategy.mode", "scd2 with delete_policy 'expire'"),
        ("{mode: scd2, unique_key: id, scd2: {delete_policy: expire}}", "sink.strategy.scd2.delete_policy", "scd2 with delete_policy 'expire'"),
        ("{mode: replace, custom_predicate: \"id > 0\"}", "sink.strategy.mode", "strategy mode 'replace'"),
        ("{mode: partition_replace, partition: {column: day}}", "sink.strategy.mode", "strategy mode 'partition_replace'"),
    ]

    @Test(arguments: partialSources.map(\.name), [0, 1, 2, 3, 4, 5])
    func aPartialSourceCannotFeedARemovingStrategy(source name: String, strategy index: Int) {
        let source = Self.partialSources.first { $0.name == name }!
        let strategy = Self.removingStrategies[index]
        for sink in ["postgres", "clickhouse"] {
            let yaml = """
                name: p
                source: \(source.yaml)
                sink:
                  type: \(sink)
                  connection: {url: '\(sink == "postgres" ? "postgresql://h/d" : "http://h:8123/")'}
                  table: s.dst
                  strategy: \(strategy.yaml)
                """
            let error = firstError(yaml)
            #expect(error?.file == "p.yml")
            #expect(error?.line == 7, "\(sink) \(name) \(strategy.yaml): \(String(describing: error))")
            #expect(error?.keyPath == strategy.keyPath, "\(sink) \(name) \(strategy.yaml)")
            #expect(error?.message.hasPrefix(strategy.prefix) == true, "\(String(describing: error?.message))")
            #expect(error?.message.contains(source.reason) == true, "\(String(describing: error?.message))")
            #expect(error?.hint?.isEmpty == false)
        }
    }

    @Test(arguments: partialSources.map(\.name))
    func delete_policyIgnoreIsAccepted(source name: String) {
        let source = Self.partialSources.first { $0.name == name }!
        for strategy in ["{mode: snapshot_diff, unique_key: id, diff: {delete_policy: ignore}}", "{mode: scd2, unique_key: id, scd2: {delete_policy: ignore}}"] {
            let yaml = """
                name: p
                source: \(source.yaml)
                sink: {type: postgres, connection: {url: 'postgresql://h/d'}, table: s.dst, strategy: \(strategy)}
                """
            #expect(firstError(yaml) == nil, "\(name) \(strategy)")
        }
    }

    /// A source read whole on every run keeps every strategy and its default delete policy.
    @Test func aWholeReadKeepsDeleteDetection() {
        let sources = [
            "{type: postgres, connection: {url: 'postgresql://h/d'}, table: s.t}",
            "{type: clickhouse, connection: {url: 'http://h:8123/'}, table: d.t, options: {custom_predicate: \"day > '2026-01-01'\"}}",
            "{type: files, path: a.csv}",
        ]
        for source in sources {
            for strategy in Self.removingStrategies {
                let yaml = """
                    name: p
                    source: \(source)
                    sink: {type: postgres, connection: {url: 'postgresql://h/d'}, table: s.dst, strategy: \(strategy.yaml)}
                    """
                #expect(firstError(yaml) == nil, "\(source) \(strategy.yaml)")
            }
        }
    }

    @Test func theRefusalNamesTheFixes() {
        let yaml = """
            name: p
            source: {type: postgres, connection: {url: 'postgresql://h/d'}, table: s.t, options: {incremental_strategy: xmin}}
            sink: {type: postgres, connection: {url: 'postgresql://h/d'}, table: s.dst, strategy: {mode: snapshot_diff, unique_key: id}}
            """
        let error = firstError(yaml)
        #expect(
            error?.message
                == "snapshot_diff with delete_policy 'hard_delete' deletes every target row a run did not read, but incremental_strategy 'xmin' reads only rows written since the last run: each run would delete the rows that did not change")
        #expect(
            error?.hint
                == "set diff: {delete_policy: ignore} (new and changed rows are still applied; deleted source rows are not detected), or read the whole source on every run (drop incremental_strategy)")
        #expect(error?.description.hasPrefix("p.yml:3:") == true, "\(String(describing: error?.description))")
    }
}
