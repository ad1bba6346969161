import Flow
import Foundation
import FilesConnector
import Formats
import KafkaConnector
import Manifest
import Pipeline
import PostgresConnector
import Testing

@Suite struct GoodManifestTests {
    @Test func filesManifestParsesIntoTheFullModel() throws {
        let doc = try ManifestLoader.parse(
            yaml: FixtureFiles.text("good", "files_full"), path: "files_full.yml", environment: ["DATA_DIR": "/data"])
        #expect(doc.name == "orders_files")
        #expect(doc.description == "Orders from the nightly CSV drop")

        #expect(doc.source.type == .files)
        #expect(doc.source.path == "/data/orders.csv")
        #expect(doc.source.connection == nil)
        let options = doc.source.options
        #expect(options.file == FileOptions(format: .csv, delimiter: ";", quote: "'", nullToken: "NULL", header: false))
        #expect(options.incrementalColumn == "updated_at")
        #expect(options.batchRows == 50000)
        #expect(options.columns == ["id", "amt", "updated_at"])
        #expect(options.customPredicate == "amt > 0")
        #expect(
            options.schema
                == Schema([
                    Field("id", .int64, nullable: false), Field("amt", .decimal(precision: 12, scale: 2)),
                    Field("updated_at", .timestamp(withTimeZone: true)),
                ]))
        #expect(options.extra.isEmpty)

        #expect(doc.sink.type == .files)
        #expect(doc.sink.path == "out/orders.jsonl")
        #expect(doc.sink.options.file?.format == .jsonl)
        #expect(doc.sink.options.lineage)
        #expect(doc.sink.options.rowHash)
        #expect(
            doc.sink.strategy
                == StrategyConfig(mode: .incrementalAppend, uniqueKey: ["id"], onlyNewRows: true))

        #expect(doc.state == StateConfig(type: .file, directory: ".dpone/state-orders"))
        #expect(
            doc.transforms == [
                .rename([ColumnRename(from: "amt", to: "amount"), ColumnRename(from: "updated_at", to: "changed_at")]),
                .select(["id", "amount", "changed_at"]),
                .cast(
                    [
                        ColumnCast(column: "amount", type: .decimal(precision: 14, scale: 2)),
                        ColumnCast(column: "id", type: .int64),
                    ], allowLossy: true),
                .filter(predicate: "amount > 0 and note != '${literal}'"),
            ])
    }

    @Test func minimalFilesManifestGetsDefaults() throws {
        let doc = try ManifestLoader.parse(
            yaml: """
                name: m
                source: {type: files, path: in/a.jsonl}
                sink: {type: files, path: out/a.tsv}
                """, path: "m.yml", environment: [:])
        #expect(doc.source.options.file == FileOptions(format: .jsonl))
        #expect(doc.sink.options.file == FileOptions(format: .csv, delimiter: "\t"))
        #expect(doc.sink.strategy == StrategyConfig())
        #expect(doc.sink.options.lineage == false)
        #expect(doc.state == StateConfig())
        #expect(doc.state.directory == ".dpone/state")
        #expect(doc.transforms.isEmpty)
        #expect(doc.summary == "files in/a.jsonl -> files out/a.tsv (full_refresh)")
    }

    @Test func databaseManifestResolvesConnectionsAndKeepsExtraOptions() throws {
        let env = [
            "DPONE_CONN_PG_APP_URL": "postgresql://etl:s3cret@pg.internal:5432/app?sslmode=require",
            "DPONE_CONN_PG_META_HOST": "meta.internal",
            "DPONE_CONN_PG_META_PORT": "5433",
            "DPONE_CONN_PG_META_DATABASE": "etl",
            "DPONE_CONN_PG_META_USERNAME": "state",
            "DPONE_CONN_PG_META_PASSWORD": "p@ss:word",
            "CH_PASSWORD": "ch-secret",
        ]
        let doc = try ManifestLoader.parse(
            yaml: FixtureFiles.text("good", "postgres_to_clickhouse"), path: "p.yml", environment: env)
        #expect(doc.name == "app.orders-merge")

        let source = doc.source
        #expect(source.type == .postgres)
        #expect(source.table == TableRef(schema: "public", name: "orders"))
        #expect(source.connection?.reference == "pg-app")
        let pg = try #require(source.connection?.resolved)
        #expect(pg.url == "postgresql://etl:s3cret@pg.internal:5432/app?sslmode=require")
        #expect(pg.redactedURL == "postgresql://etl:***@pg.internal:5432/app?sslmode=require")
        #expect(pg.host == "pg.internal")
        #expect(pg.port == 5432)
        #expect(pg.database == "app")
        #expect(pg.username == "etl")
        #expect(pg.password == "s3cret")
        #expect(source.options.file == nil)
        #expect(source.options.incrementalColumn == "updated_at")
        #expect(source.options.incrementalStrategy == .column)
        #expect(source.options.lookback == "10 minutes")
        #expect(source.options.extra.isEmpty, "postgres source options are modelled and checked")

        let sink = doc.sink
        #expect(sink.type == .clickhouse)
        #expect(sink.table == TableRef(schema: "raw", name: "orders"))
        #expect(sink.strategy.mode == .incrementalMerge)
        #expect(sink.strategy.uniqueKey == ["id", "region"])
        #expect(sink.strategy.overwriteType == .exchange)
        #expect(sink.options.lineage)
        #expect(sink.strategy.mergePolicy == .mutationDeleteInsert)
        #expect(sink.options.extra.isEmpty, "clickhouse sink options are checked")
        let ch = try #require(sink.connection?.resolved)
        #expect(sink.connection?.reference == nil)
        #expect(ch.url == "clickhouse://loader:ch-secret@ch.internal:8123/dwh")
        #expect(ch.redactedURL == "clickhouse://loader:***@ch.internal:8123/dwh")

        #expect(doc.state.type == .postgres)
        #expect(doc.state.directory == nil)
        #expect(doc.state.table == TableRef(schema: "etl_state", name: "checkpoints"))
        let meta = try #require(doc.state.connection?.resolved)
        #expect(meta.url == "postgresql://state:p%40ss%3Aword@meta.internal:5433/etl")
        #expect(meta.redactedURL == "postgresql://state:***@meta.internal:5433/etl")
        #expect(meta.password == "p@ss:word")
    }

    @Test func kafkaSinkNeedsATopicAndSupportsMerge() throws {
        let doc = try ManifestLoader.parse(
            yaml: """
                name: events
                source: {type: files, path: e.csv}
                sink:
                  type: kafka
                  connection: {url: "kafka://b1:9092,b2:9092"}
                  topic: orders.v1
                  strategy: {mode: incremental_merge, unique_key: id}
                """, path: "k.yml", environment: [:])
        #expect(doc.sink.topic == "orders.v1")
        #expect(doc.sink.connection?.resolved.host == "b1:9092,b2:9092")
        #expect(doc.sink.connection?.resolved.port == nil)
    }

    @Test func disabledStateHasNoDirectory() throws {
        let doc = try ManifestLoader.parse(
            yaml: """
                name: m
                source: {type: files, path: a.csv}
                sink: {type: files, path: b.csv}
                state: {type: disabled}
                """, path: "m.yml", environment: [:])
        #expect(doc.state == StateConfig(type: .disabled, directory: nil))
    }
}
