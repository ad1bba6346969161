import Flow
import FilesConnector
import Formats
import KafkaConnector
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// Strategy policies and state atomicity for database sinks.
@Suite struct DatabaseStrategyOptionTests {
    static let env = ["DPONE_CONN_PG_URL": "postgresql://u:secret@127.0.0.1:5432/db"]

    func parse(_ yaml: String) throws -> ManifestDocument {
        try ManifestLoader.parse(yaml: yaml, path: "t.yml", environment: Self.env)
    }

    func firstError(_ yaml: String) -> String? {
        do {
            _ = try ManifestLoader.parse(yaml: yaml, path: "t.yml", environment: Self.env)
            return nil
        } catch {
            return error.first.map { "\($0.message) at \($0.keyPath)" }
        }
    }

    static func manifest(strategy: String, state: String = "", sink: String = "postgres") -> String {
        """
        name: pg
        source: {type: postgres, connection_ref: pg, table: {schema: public, name: src}}
        sink:
          type: \(sink)
          connection_ref: pg
          table: {schema: public, name: dst}
          strategy: \(strategy)
        \(state)
        """
    }

    @Test func policiesHaveDefaults() throws {
        let doc = try parse(Self.manifest(strategy: "{mode: incremental_merge, unique_key: id}"))
        #expect(doc.sink.strategy.mergePolicy == nil)
        #expect(try ConnectorRegistry.descriptor(for: .postgres, role: "sink").mergePolicy(doc.sink.strategy.mergePolicy) == .deleteInsert)
        #expect(try ConnectorRegistry.descriptor(for: .clickhouse, role: "sink").mergePolicy(nil) == .replacingMergeTree)
        #expect(doc.sink.strategy.diffDeletePolicy == .hardDelete)
        #expect(doc.sink.strategy.historyDeletePolicy == .expire)
        #expect(doc.state.atomicity == .afterTarget)
    }

    @Test func policiesAreRead() throws {
        let merge = try parse(Self.manifest(strategy: "{mode: incremental_merge, unique_key: id, merge_policy: upsert, duplicate_policy: fail}"))
        #expect(merge.sink.strategy.mergePolicy == .upsert)
        #expect(merge.sink.strategy.duplicatePolicy == "fail")
        #expect(try parse(Self.manifest(strategy: "{mode: incremental_merge, unique_key: id, duplicate_policy: last}")).sink.strategy.duplicatePolicy == "last")
        for policy in ["mutation_delete_insert", "shadow_swap", "replacing_merge_tree"] {
            let ch = try parse(Self.manifest(strategy: "{mode: incremental_merge, unique_key: id, merge_policy: \(policy)}", sink: "clickhouse"))
            #expect(ch.sink.strategy.mergePolicy?.rawValue == policy)
        }
        let diff = try parse(Self.manifest(strategy: "{mode: snapshot_diff, unique_key: id, diff: {delete_policy: soft_delete}}"))
        #expect(diff.sink.strategy.diffDeletePolicy == .softDelete)
        let scd2 = try parse(Self.manifest(strategy: "{mode: scd2, unique_key: [id], scd2: {delete_policy: ignore}}"))
        #expect(scd2.sink.strategy.historyDeletePolicy == .ignore)
    }

    @Test func targetAtomicStateNeedsPostgresStateAndSink() throws {
        let ok = try parse(
            Self.manifest(
                strategy: "{mode: incremental_append}",
                state: "state: {type: postgres, connection_ref: pg, atomicity: target_atomic}"))
        #expect(ok.state.atomicity == .targetAtomic)
        #expect(
            firstError(Self.manifest(strategy: "{mode: incremental_append}", state: "state: {atomicity: target_atomic}"))
                == "atomicity 'target_atomic' needs a postgres or bigquery state store at state.atomicity")
        let filesSink = """
            name: f
            source: {type: files, path: a.csv}
            sink: {type: files, path: b.csv}
            state: {type: postgres, connection_ref: pg, atomicity: target_atomic}
            """
        #expect(
            firstError(filesSink)
                == "atomicity 'target_atomic' needs the state store in the sink's own system (a postgres sink with a postgres state store, or bigquery with bigquery), found a postgres state store and a files sink at state.atomicity"
        )
        // The state store must live in the sink's system: a BigQuery state store beside a
        // PostgreSQL sink cannot share its transaction.
        let crossed = Self.manifest(
            strategy: "{mode: incremental_append}",
            state: "state: {type: bigquery, connection: {url: \"bigquery://p\"}, table: {schema: s, name: st}, atomicity: target_atomic}")
        #expect(firstError(crossed)?.hasPrefix("atomicity 'target_atomic' needs the state store in the sink's own system") == true)
        let noDataset = Self.manifest(strategy: "{mode: incremental_append}", state: "state: {type: bigquery, connection: {url: \"bigquery://p\"}}")
        #expect(firstError(noDataset)?.hasPrefix("a bigquery state store beside a postgres sink needs table: {schema: DATASET, name: __dpone__state}") == true)
    }

    @Test func badPoliciesAreNamed() {
        #expect(
            firstError(Self.manifest(strategy: "{mode: incremental_merge, unique_key: id, merge_policy: upsrt}"))?
                .hasPrefix("unknown postgres merge policy 'upsrt'") == true)
        // Each sink type takes its own policies; the error lists them.
        #expect(
            firstError(Self.manifest(strategy: "{mode: incremental_merge, unique_key: id, merge_policy: shadow_swap}"))
                == "postgres merge policy 'shadow_swap' is not supported; expected one of: delete_insert, upsert at sink.strategy.merge_policy")
        #expect(
            firstError(Self.manifest(strategy: "{mode: incremental_merge, unique_key: id, merge_policy: upsert}", sink: "clickhouse"))?
                .hasSuffix("expected one of: replacing_merge_tree, mutation_delete_insert, shadow_swap at sink.strategy.merge_policy") == true)
        #expect(
            firstError(Self.manifest(strategy: "{mode: incremental_merge, unique_key: id, duplicate_policy: keep_last}"))?
                .hasPrefix("unknown duplicate policy 'keep_last'") == true)
        #expect(
            firstError(Self.manifest(strategy: "{mode: replace}"))?
                .hasPrefix("missing required key 'custom_predicate'") == true)
    }
}

extension DatabaseStrategyOptionTests {
    static func source(_ options: String, mode: String = "{mode: incremental_merge, unique_key: id}") -> String {
        """
        name: pg
        source: {type: postgres, connection_ref: pg, table: {schema: public, name: src}, options: \(options)}
        sink: {type: postgres, connection_ref: pg, table: {schema: public, name: dst}, strategy: \(mode)}
        """
    }

    @Test func postgresSourceOptions() throws {
        let xmin = try parse(Self.source("{incremental_strategy: xmin}"))
        #expect(xmin.source.options.incrementalStrategy == .xmin)
        let cursor = try parse(Self.source("{incremental_column: updated_at, lookback: '10 minutes', unbounded_numeric: text}"))
        #expect(cursor.source.options.lookback == "10 minutes")
        #expect(cursor.source.options.unboundedNumeric == .text)
        #expect(firstError(Self.source("{incremental_strategy: xmin, incremental_column: id}"))?.hasPrefix("incremental_column conflicts") == true)
        #expect(firstError(Self.source("{lookback: 5}"))?.hasPrefix("lookback needs incremental_column") == true)
        #expect(firstError(Self.source("{incremental_strategy: xmin}", mode: "{mode: full_refresh}"))?
            .hasPrefix("incremental_strategy 'xmin' cannot be used with strategy mode 'full_refresh'") == true)
        #expect(firstError(Self.source("{incremental_colum: id}"))?.hasPrefix("unknown key 'incremental_colum'") == true)
        let polled = try parse(Self.source("{incremental_strategy: xmin, poll_interval: 500ms}"))
        #expect(polled.source.options.pollInterval == 0.5)
        #expect(try parse(Self.source("{incremental_column: id, poll_interval: 2m}")).source.options.pollInterval == 120)
        #expect(firstError(Self.source("{poll_interval: 5s}"))?.hasPrefix("poll_interval needs an incremental read") == true)
        #expect(firstError(Self.source("{incremental_strategy: xmin, poll_interval: soon}"))?.hasPrefix("invalid poll_interval 'soon'") == true)
    }

    @Test func partitionReplaceNeedsAColumn() throws {
        let ok = try parse(Self.manifest(strategy: "{mode: partition_replace, partition: {column: day, max_partitions_per_run: 3}}"))
        #expect(ok.sink.strategy.partitionColumn == "day" && ok.sink.strategy.maxPartitionsPerRun == 3)
        #expect(firstError(Self.manifest(strategy: "{mode: partition_replace}"))?.hasPrefix("missing required key 'partition'") == true)
    }
}

extension DatabaseStrategyOptionTests {
    static func cdc(_ cdc: String, mode: String = "{mode: cdc_apply, unique_key: id}", extra: String = "") -> String {
        """
        name: pg
        source: {type: postgres, connection_ref: pg, table: {schema: public, name: src}, options: {cdc: \(cdc)\(extra)}}
        sink: {type: postgres, connection_ref: pg, table: {schema: public, name: dst}, strategy: \(mode)}
        """
    }

    func firstErrorWithLine(_ yaml: String) -> String? {
        do {
            _ = try ManifestLoader.parse(yaml: yaml, path: "t.yml", environment: Self.env)
            return nil
        } catch {
            return error.first.map { "\($0.file):\($0.line): \($0.message) at \($0.keyPath)" }
        }
    }

    @Test func postgresCDCOptions() throws {
        let doc = try parse(Self.cdc("{slot: dpone_orders, publication: orders_pub}"))
        #expect(doc.source.options.cdc == PostgresCDCOptions(slot: "dpone_orders", publication: "orders_pub", create: true))
        #expect(try parse(Self.cdc("{slot: s1, publication: p, create: false}")).source.options.cdc?.create == false)
        #expect(
            firstErrorWithLine(Self.cdc("{slot: Bad-Slot, publication: p}"))
                == "t.yml:2: invalid replication slot name 'Bad-Slot' at source.options.cdc.slot")
        #expect(firstError(Self.cdc("{slot: \(String(repeating: "a", count: 64)), publication: p}"))?.hasPrefix("invalid replication slot name") == true)
        #expect(firstError(Self.cdc("{publication: p}"))?.hasPrefix("missing required key 'slot'") == true)
        #expect(firstError(Self.cdc("{slot: s, publication: p, creat: true}"))?.hasPrefix("unknown key 'creat'") == true)
        #expect(firstError(Self.cdc("{slot: s, publication: p, create: maybe}"))?.hasPrefix("expected a boolean") == true)
        #expect(firstError(Self.cdc("{slot: s, publication: p}", extra: ", incremental_column: id"))?.hasPrefix("incremental_column cannot be used with cdc") == true)
        #expect(firstError(Self.cdc("{slot: s, publication: p}", mode: "{mode: incremental_merge, unique_key: id}"))?
            .hasPrefix("cdc needs strategy mode 'cdc_apply'") == true)
        // Validation agrees with the run: the key comes from the table's replica identity at start.
        #expect(firstError(Self.cdc("{slot: s, publication: p}", mode: "{mode: cdc_apply}")) == nil)
    }
}

extension DatabaseStrategyOptionTests {
    static func cdcTables(_ tables: String, sink: String = "table: \"replica.{table}\"", type: String = "postgres", state: String = "") -> String {
        """
        name: pg
        source:
          type: postgres
          connection_ref: pg
          options:
            cdc:
              slot: s
              publication: p
              tables: \(tables)
        sink: {type: \(type), \(type == "kafka" ? "connection: {url: \"kafka://127.0.0.1:9092\"}" : "connection_ref: pg"), \(sink)\(sink.isEmpty ? "" : ", ")strategy: {mode: cdc_apply}}
        \(state)
        """
    }

    @Test func cdcTablesListSeveralTablesOnOneSlot() throws {
        let doc = try parse(
            Self.cdcTables("[public.orders, {table: sales.items, sink_table: replica.lines, unique_key: [order_id, line]}]"))
        let tables = doc.source.options.routes
        #expect(doc.source.options.cdc?.slot != nil)
        #expect(tables.map(\.table) == [TableRef(schema: "public", name: "orders"), TableRef(schema: "sales", name: "items")])
        #expect(tables[1].sinkTable == TableRef(schema: "replica", name: "lines"))
        #expect(tables[1].uniqueKey == ["order_id", "line"])
        #expect(doc.source.table == nil)
        #expect(doc.sink.table == TableRef(schema: "replica", name: "{table}"))
        // No sink table: each table keeps its name; no unique_key: the table's primary key at start.
        #expect(try parse(Self.cdcTables("[a, b]", sink: "")).sink.table == nil)
        #expect(try parse(Self.cdcTables("[a, b]", sink: "topic: \"cdc.{table}\"", type: "kafka")).sink.topic == "cdc.{table}")
        #expect(try parse(Self.cdcTables("[a]")).source.options.cdc?.snapshotParallelism == nil)
    }

    @Test func cdcTablesErrorsNameTheKey() throws {
        #expect(
            firstErrorWithLine(Self.cdcTables("[a, b]", sink: "table: replica.one"))
                == "t.yml:10: sink.table names one table for 2 tables at sink.table")
        #expect(firstError(Self.cdcTables("[a, a]"))?.hasPrefix("table public.a is listed twice in cdc.tables") == true)
        #expect(firstError(Self.cdcTables("[]"))?.hasPrefix("cdc.tables is empty") == true)
        #expect(firstError(Self.cdcTables("[{table: a, name: a}]"))?.hasPrefix("unknown key 'name'") == true)
        #expect(firstError(Self.cdcTables("[{sink_table: a}]"))?.hasPrefix("missing required key 'table'") == true)
        #expect(firstError(Self.cdcTables("[{table: a, unique_key: []}]"))?.hasPrefix("unique_key is empty") == true)
        #expect(firstError(Self.cdcTables("[a, b]", sink: "", type: "kafka"))?.hasPrefix("missing required key 'topic'") == true)
        #expect(firstError(Self.cdcTables("[a, b]", sink: "topic: one", type: "kafka"))?.hasPrefix("sink.topic names one topic for 2 tables") == true)
        #expect(
            firstError(Self.cdcTables("[a, b]", state: "state: {type: postgres, connection_ref: pg, atomicity: target_atomic}"))?
                .hasPrefix("atomicity 'target_atomic' writes the state in the one sink's transaction") == true)
        let both = Self.cdcTables("[a]").replacingOccurrences(of: "  connection_ref: pg\n  options:", with: "  connection_ref: pg\n  table: public.src\n  options:")
        #expect(firstError(both)?.hasPrefix("source.table cannot be used with cdc.tables") == true)
        #expect(firstError(Self.cdcTables("[a]").replacingOccurrences(of: "publication: p", with: "publication: p\n      snapshot_parallelism: 0"))?.hasPrefix("expected a positive integer") == true)
    }
}

extension DatabaseStrategyOptionTests {
    /// `schema_evolution: {widen, drop}`, `cdc.on_truncate` and `unbounded_numeric: exact` (the default).
    @Test func schemaEvolutionTruncateAndNumericPolicies() throws {
        let defaults = try parse(Self.source("{}"))
        #expect(defaults.sink.options.widen && defaults.sink.options.keepDropped)
        #expect(defaults.source.options.unboundedNumeric == .exact)
        let sink = { (evolution: String) in
            """
            name: pg
            source: {type: postgres, connection_ref: pg, table: {schema: public, name: src}}
            sink: {type: postgres, connection_ref: pg, table: {schema: public, name: dst}, options: {schema_evolution: \(evolution)}}
            """
        }
        let strict = try parse(sink("{widen: fail, drop: fail}"))
        #expect(!strict.sink.options.widen && !strict.sink.options.keepDropped)
        #expect(firstError(sink("{drop: keeep}"))?.hasPrefix("unknown drop policy 'keeep'; expected one of: keep, fail") == true)
        #expect(firstError(sink("{rename: auto}"))?.hasPrefix("unknown key 'rename'") == true)
        let cdc = { (truncate: String) in
            Self.source("{cdc: {slot: s1, publication: p1, on_truncate: \(truncate)}}", mode: "{mode: cdc_apply, unique_key: id}")
        }
        #expect(try parse(cdc("truncate_target")).source.options.cdc?.onTruncate == .truncateTarget)
        #expect(try parse(cdc("fail")).source.options.cdc?.onTruncate == .fail)
        #expect(firstError(cdc("truncate"))?.hasPrefix("unknown on_truncate policy 'truncate'") == true)
    }
}
