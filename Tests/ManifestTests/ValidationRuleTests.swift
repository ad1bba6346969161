import Flow
import FilesConnector
import Formats
import KafkaConnector
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// Individual validation rules, checked through the first reported error.
@Suite struct ValidationRuleTests {
    func firstError(_ yaml: String, env: [String: String] = [:]) -> ManifestError? {
        do {
            _ = try ManifestLoader.parse(yaml: yaml, path: "t.yml", environment: env)
            return nil
        } catch {
            return error.first
        }
    }

    static let filesPair = "source: {type: files, path: a.csv}\nsink: {type: files, path: b.csv}\n"

    @Test(arguments: LoadMode.allCases) func filesSinksSupportOnlyFullRefreshAndAppend(_ mode: LoadMode) {
        let yaml = "name: n\nsource: {type: files, path: a.csv}\nsink: {type: files, path: b.csv, strategy: {mode: \(mode.rawValue), unique_key: id}}\n"
        let error = firstError(yaml)
        if mode == .fullRefresh || mode == .incrementalAppend {
            #expect(error == nil)
        } else {
            #expect(error?.message.hasPrefix("strategy mode '\(mode.rawValue)' is not supported by a files sink") == true)
        }
    }

    func sink(_ type: EndpointType) -> any EndpointSpec {
        ConnectorRegistry.all.first { $0.type == type }!
    }

    @Test func capabilityTable() {
        // Database sinks publish every mode (backfill chunk by chunk with an inner mode), SQL Server
        // and BigQuery all but cdc_apply, which they do not publish yet.
        #expect(sink(.postgres).supportedModes == LoadMode.allCases)
        #expect(sink(.mssql).supportedModes == LoadMode.allCases.filter { $0 != .cdcApply })
        #expect(sink(.clickhouse).supportedModes == LoadMode.allCases)
        #expect(sink("bigquery").supportedModes == LoadMode.allCases.filter { $0 != .cdcApply })
        #expect(!sink(.kafka).supports(.partitionReplace))
        #expect(!sink(.kafka).supports(.scd2))
        #expect(!sink(.kafka).supports(.replace))
        #expect(!sink(.kafka).supports(.backfill))
        #expect(sink(.kafka).supports(.cdcApply))
        #expect(sink("rest").supportedModes.isEmpty)
    }

    @Test(arguments: [LoadMode.incrementalMerge, .snapshotDiff, .scd2]) func keyModesNeedUniqueKey(_ mode: LoadMode) {
        let yaml = """
            name: n
            source: {type: files, path: a.csv}
            sink:
              type: mssql
              connection: {url: "mssql://db/x"}
              table: dbo.t
              strategy: {mode: \(mode.rawValue)}
            """
        let error = firstError(yaml)
        #expect(error?.keyPath == "sink.strategy")
        #expect(error?.line == 7)
        #expect(error?.message.hasPrefix("missing required key 'unique_key'") == true)
    }

    @Test func pathAndTableMustFitTheType() {
        let pathOnDatabase = firstError(
            "name: n\nsource: {type: postgres, connection: {url: 'postgresql://h/d'}, table: t, path: x.csv}\nsink: {type: files, path: b.csv}\n")
        #expect(pathOnDatabase?.message == "'path' applies only to a files source")
        #expect(pathOnDatabase?.keyPath == "source.path")

        let tableOnFiles = firstError("name: n\nsource: {type: files, path: a.csv, table: t}\nsink: {type: files, path: b.csv}\n")
        #expect(tableOnFiles?.message == "'table' applies only to a postgres, clickhouse, mssql or odbc source")
        // The list names the types that play the role: odbc reads tables but is no sink.
        let tableOnFilesSink = firstError("name: n\nsource: {type: files, path: a.csv}\nsink: {type: files, path: b.csv, table: t}\n")
        #expect(tableOnFilesSink?.message == "'table' applies only to a postgres, clickhouse, mssql or bigquery sink")

        let missingPath = firstError("name: n\nsource: {type: files}\nsink: {type: files, path: b.csv}\n")
        #expect(missingPath?.message == "missing required key 'path' (a files source needs one)")
        #expect(missingPath?.keyPath == "source")
        #expect(missingPath?.line == 2)
        #expect(missingPath?.column == 1)
    }

    @Test func aConnectionIsRequiredForDatabases() {
        let error = firstError("name: n\nsource: {type: postgres, table: t}\nsink: {type: files, path: b.csv}\n")
        #expect(error?.message == "missing required key 'connection_ref' (a postgres source needs a connection)")
    }

    @Test func bothConnectionFormsAreRejected() {
        let error = firstError(
            "name: n\nsource: {type: postgres, table: t, connection_ref: a, connection: {url: x}}\nsink: {type: files, path: b.csv}\n",
            env: ["DPONE_CONN_A_URL": "postgresql://h/d"])
        #expect(error?.message == "set either 'connection_ref' or 'connection', not both")
    }

    @Test func wrongTypesSayWhatWasFound() {
        #expect(firstError("name: [a]\n" + Self.filesPair)?.message == "expected a string, found a list")
        #expect(firstError("name:\n" + Self.filesPair)?.message == "expected a string, found null")
        #expect(
            firstError("name: n\nsource: {type: files, path: a.csv, options: {batch_rows: many}}\nsink: {type: files, path: b.csv}\n")?
                .message == "expected an integer, found a string 'many'")
        #expect(
            firstError("name: n\nsource: {type: files, path: a.csv, options: {delimiter: ';;'}}\nsink: {type: files, path: b.csv}\n")?
                .message == "expected a single character, found ';;'")
        #expect(firstError("name: n\ntransforms: {type: select}\n" + Self.filesPair)?.message == "expected a list, found a mapping")
    }

    @Test func badDecimalsExplainTheLimits() {
        let error = firstError(
            "name: n\nsource: {type: files, path: a.csv, options: {schema: [{name: x, type: 'decimal(40,2)'}]}}\nsink: {type: files, path: b.csv}\n")
        #expect(error?.message == "invalid logical type 'decimal(40,2)'")
        #expect(error?.hint?.contains("38") == true)
    }

    @Test func duplicateSchemaColumnsAreRejected() {
        let error = firstError(
            "name: n\nsource: {type: files, path: a.csv, options: {schema: [{name: x, type: int}, {name: x, type: text}]}}\nsink: {type: files, path: b.csv}\n")
        #expect(error?.message == "duplicate column 'x' in schema")
        #expect(error?.keyPath == "source.options.schema[1].name")
    }

    @Test func duplicateYAMLKeysAreSyntaxErrors() {
        let error = firstError("name: a\nname: b\n" + Self.filesPair)
        #expect(error?.message == "duplicate key 'name' in a mapping")
    }

    @Test func anEmptyManifestIsAnError() {
        #expect(firstError("")?.message == "the manifest is empty")
        #expect(firstError("# only a comment\n")?.message == "the manifest is empty")
    }

    @Test func errorsRenderWithHintAndConvertToDponeError() {
        let e = ManifestError(
            file: "m.yml", line: 12, column: 5, keyPath: "sink.strategy.mode", message: "bad", hint: "did you mean 'x'?")
        #expect(e.description == "m.yml:12:5: error: bad at 'sink.strategy.mode'\n  hint: did you mean 'x'?")
        #expect(e.dponeError.kind == .manifest)
        #expect(e.dponeError.exitCode == 2)
        #expect(e.dponeError.hint == "did you mean 'x'?")
        let root = ManifestError(file: "m.yml", line: 1, column: 1, keyPath: "", message: "bad")
        #expect(root.description == "m.yml:1:1: error: bad")
    }

    @Test func errorsAreSortedByPosition() {
        let a = ManifestError(file: "f", line: 3, column: 1, keyPath: "a", message: "a")
        let b = ManifestError(file: "f", line: 1, column: 9, keyPath: "b", message: "b")
        let c = ManifestError(file: "f", line: 1, column: 2, keyPath: "c", message: "c")
        #expect(ManifestErrors([a, b, c, a]).errors == [c, b, a])
    }
}

extension ValidationRuleTests {
    @Test func kafkaKeyFormatIsCheckedWhereItIsWritten() {
        let base = "name: n\nsink: {type: files, path: b.csv}\nsource:\n  type: kafka\n  connection: {url: 'kafka://h:9092'}\n  topic: t\n  options: "
        let unknown = firstError(base + "{tombstones: delete, key_format: strng}")
        #expect(unknown?.keyPath == "source.options.key_format" && unknown?.line == 7)
        #expect(unknown?.message.hasPrefix("unknown key format 'strng'") == true && unknown?.hint?.contains("string") == true, "\(String(describing: unknown))")
        let framed = firstError(base + "{tombstones: delete, key_format: avro}")
        #expect(framed?.message == "key_format 'avro' reads keys framed by a schema registry" && framed?.hint == "add schema_registry: {url: ...}")
        let intoTopic = base.replacingOccurrences(
            of: "{type: files, path: b.csv}", with: "{type: kafka, connection: {url: 'kafka://h:9092'}, topic: o, strategy: {mode: incremental_merge, unique_key: [id]}}")
        #expect(firstError(intoTopic + "{tombstones: delete, key_format: long}") == nil)
    }

    /// A source that sends deletes (Kafka tombstones, an envelope's delete events) into a sink whose
    /// strategy cannot apply them is refused at validation, at the option that sends them: the run
    /// would otherwise fail at the first delete (found by the matrix: kafka into ClickHouse's
    /// incremental_merge validated, then failed on the second load).
    @Test func deletesFromTheSourceNeedASinkStrategyThatAppliesThem() {
        func manifest(_ sink: String, _ options: String = "{tombstones: delete}") -> String {
            "name: n\nsource:\n  type: kafka\n  connection: {url: 'kafka://h:9092'}\n  topic: t\n  options: \(options)\nsink: \(sink)\n"
        }
        let clickhouse = "{type: clickhouse, connection: {url: 'http://h:8123'}, table: {schema: d, name: t}, strategy: {mode: incremental_merge, unique_key: [id]}}"
        let refused = firstError(manifest(clickhouse))
        #expect(refused?.keyPath == "source.options.tombstones" && refused?.line == 6, "\(String(describing: refused))")
        #expect(refused?.message == "the source sends deletes (tombstones) that a clickhouse sink cannot apply with strategy mode 'incremental_merge'")
        #expect(refused?.hint == "a clickhouse sink applies deletes with strategy mode 'cdc_apply'; or have the source skip them (tombstones: skip)")
        let envelope = firstError(manifest(clickhouse, "{envelope: dpone}"))
        #expect(envelope?.keyPath == "source.options.envelope", "\(String(describing: envelope))")
        let files = firstError(manifest("{type: files, path: b.csv}"))
        #expect(files?.hint?.hasPrefix("a files sink applies no deletes") == true, "\(String(describing: files))")
        // Skipped tombstones, or a sink strategy that applies them, validate.
        #expect(firstError(manifest(clickhouse, "{tombstones: skip}")) == nil)
        #expect(firstError(manifest(clickhouse.replacingOccurrences(of: "incremental_merge", with: "cdc_apply"))) == nil)
        let postgres = "{type: postgres, connection: {url: 'postgresql://u@h/d'}, table: {schema: s, name: t}, strategy: {mode: incremental_merge, unique_key: [id]}}"
        #expect(firstError(manifest(postgres)) == nil)
        #expect(firstError(manifest(postgres.replacingOccurrences(of: "incremental_merge", with: "full_refresh")))?.keyPath == "source.options.tombstones")
    }
}

/// A driver connection string, inline (`connection: {odbc: ...}`) or from `DPONE_CONN_<ID>_URL`,
/// is taken as it is and shown only redacted.
@Suite struct ODBCConnectionManifestTests {
    static let text = "Driver={PostgreSQL Unicode};Server=db;Uid=etl;Pwd={se;cret}"

    @Test func aConnectionStringResolvesInlineOrByReference() throws {
        let inline = try ManifestLoader.parse(
            yaml: "name: o\nsource: {type: odbc, connection: {odbc: \"\(Self.text)\"}, table: t}\nsink: {type: files, path: out.csv}\n",
            path: "o.yml", environment: [:])
        #expect(inline.source.connection?.resolved.url == Self.text)
        let referenced = try ManifestLoader.parse(
            yaml: "name: o\nsource: {type: odbc, connection_ref: legacy-db, table: t}\nsink: {type: files, path: out.csv}\n",
            path: "o.yml", environment: ["DPONE_CONN_LEGACY_DB_URL": Self.text])
        #expect(referenced.source.connection?.resolved.url == Self.text)
        for document in [inline, referenced] {
            let rendered = try document.renderedJSON()
            #expect(!rendered.contains("se;cret") && !rendered.contains("cret}"), "\(rendered)")
        }
    }

    @Test func anODBCSourceNeedsATableOrAQueryNotBoth() {
        func error(_ source: String) -> String? {
            do {
                _ = try ManifestLoader.parse(yaml: "name: o\nsource: \(source)\nsink: {type: files, path: out.csv}\n", path: "o.yml", environment: [:])
                return nil
            } catch { return error.errors.first?.message }
        }
        #expect(error("{type: odbc, connection: {odbc: \"DSN=x\"}}")?.hasPrefix("missing required key 'table'") == true)
        #expect(error("{type: odbc, connection: {odbc: \"DSN=x\"}, table: t, options: {query: \"SELECT 1\"}}")?.contains("not both") == true)
        #expect(error("{type: odbc, connection: {odbc: \"DSN=x\"}, options: {query: \"SELECT 1 AS one\"}}") == nil)
    }
}
