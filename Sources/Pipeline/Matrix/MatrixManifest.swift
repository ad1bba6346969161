import ConnectorKit
import Flow
import Foundation
import Manifest

/// The behaviour model's table: what every case's source holds and its sink receives.
public enum MatrixModel {
    /// The columns, with the logical type each source reads them as.
    public static let schema = Schema([
        Field("id", .int64, nullable: false), Field("version", .int64), Field("bucket", .int32), Field("name", .string),
        Field("amount", .decimal(precision: 18, scale: 4)), Field("score", .float64), Field("active", .bool), Field("day", .date),
        Field("updated_at", .timestamp(withTimeZone: true)), Field("payload", .json),
    ])

    /// A backfill case covers ids 1...backfillTo (the model's 10,000 rows and the 2 % added by the
    /// second load) in chunks of backfillChunk ids: 5 chunks.
    public static let backfillTo = 10_200
    public static let backfillChunk = 2_040

    /// The `schema:` list of a source that declares its columns (REST, Kafka).
    static var declaredSchema: String {
        "[" + schema.fields.map { field in
            let type: String
            switch field.type {
            case .int64: type = "int64"
            case .int32: type = "int32"
            case .string: type = "string"
            case .decimal(let p, let s): type = "\"decimal(\(p),\(s))\""
            case .float64: type = "float64"
            case .bool: type = "bool"
            case .date: type = "date"
            case .timestamp: type = "timestamptz"
            default: type = "json"
            }
            return "{name: \(field.name), type: \(type)\(field.nullable ? "" : ", nullable: false")}"
        }.joined(separator: ", ") + "]"
    }
}

/// Where a matrix run's systems are: connection references (resolved from `DPONE_CONN_<ID>_URL`),
/// the REST base URL, and the names every case uses. The contract layer uses fixed values; the
/// local layer points them at the services `scripts/test.sh` starts.
public struct MatrixEndpoints: Sendable {
    public var environment: [String: String]
    public var restURL: String
    /// The dataset, schema or database of every case's tables.
    public var namespace = "matrix"
    public var sourceTopic = "matrix_src"
    public var sinkTopic = "matrix_dst"
    public var bigqueryProject = "dpone-test"
    /// The replication slot and publication of a CDC case.
    public var cdcSlot = "matrix_slot"
    public var cdcPublication = "matrix_pub"
    /// A backfill case's id: each load of the case is a backfill of its own over the whole range
    /// (the same id twice would find every chunk done).
    public var backfillID = "load1"

    public init(environment: [String: String], restURL: String) {
        self.environment = environment
        self.restURL = restURL
    }

    /// Fixed loopback addresses: validation and planning connect to nothing.
    public static let contract = MatrixEndpoints(
        environment: [
            "DPONE_CONN_MATRIX_PG_URL": "postgresql://dpone:secret@127.0.0.1:55432/dpone",
            "DPONE_CONN_MATRIX_MSSQL_URL": "mssql://sa:secret@127.0.0.1:1433/master",
            "DPONE_CONN_MATRIX_CH_URL": "http://default:secret@127.0.0.1:18123",
            "DPONE_CONN_MATRIX_KAFKA_URL": "kafka://127.0.0.1:19092",
        ], restURL: "http://127.0.0.1:18080")
}

/// The manifest of a case.
///
/// - Sources read the model table (`<namespace>.src`, the `/page` resource of the REST fixture, the
///   topic `matrix_src`): in full for full_refresh, snapshot_diff, scd2 and partition_replace; by
///   `version` (a cursor) for incremental_append and incremental_merge; by xmin or CDC for those
///   columns; restricted to `bucket = 1` for replace.
/// - Sinks write `<namespace>.dst` (the topic `matrix_dst` for Kafka) with the column's strategy
///   keyed by `id`.
public enum MatrixManifest {
    public static func render(_ c: MatrixCase, endpoints: MatrixEndpoints = .contract, stateDirectory: String = ".dpone/matrix-state") -> String {
        """
        name: \(c.id)
        source: \(source(c, endpoints))
        sink: \(sink(c, endpoints))
        state: {dir: \(stateDirectory)/\(c.id)}

        """
    }

    static func source(_ c: MatrixCase, _ e: MatrixEndpoints) -> String {
        let ns = e.namespace
        var options: [String] = []
        switch c.strategy {
        case .incrementalAppend, .incrementalMerge:
            if c.source != "rest" && c.source != "kafka" { options.append("incremental_column: version") }
        case .replace:
            if c.source != "rest" && c.source != "kafka" { options.append("custom_predicate: \"bucket = 1\"") }
        case .xmin:
            options.append("incremental_strategy: xmin")
        case .cdc:
            options.append("cdc: {slot: \(e.cdcSlot), publication: \(e.cdcPublication)}")
        default:
            break
        }
        switch c.source.rawValue {
        case "postgres":
            return "{type: postgres, connection_ref: matrix_pg, table: {schema: \(ns), name: src}\(optionList(options))}"
        case "mssql":
            return "{type: mssql, connection_ref: matrix_mssql, table: {schema: dbo, name: src}\(optionList(options + ["trust_server_certificate: true"]))}"
        case "clickhouse":
            return "{type: clickhouse, connection_ref: matrix_ch, table: {schema: \(ns), name: src}\(optionList(options))}"
        case "rest":
            var rest = [
                "path: /page", "records: data", "paginator: {type: page_number, param: page, total_pages_path: total_pages}",
                "schema: \(MatrixModel.declaredSchema)",
            ]
            if c.strategy.readsIncrementally { rest.append("incremental: {cursor_path: updated_at, param: since}") }
            // The API filters the replace window itself: every staged row must fall in it.
            if c.strategy == .replace { rest.append("params: {bucket: 1}") }
            return "{type: rest, connection: {url: \"\(e.restURL)\"}\(optionList(rest))}"
        default:  // kafka
            let kafka = [
                "offset_storage: kafka", "group_id: \(c.id)", "tombstones: \([.incrementalMerge, .cdcApply, .snapshotDiff].contains(c.strategy.mode) ? "delete" : "skip")",
                "schema: \(MatrixModel.declaredSchema)",
            ]
            return "{type: kafka, connection_ref: matrix_kafka, topic: \(e.sourceTopic)\(optionList(kafka))}"
        }
    }

    static func sink(_ c: MatrixCase, _ e: MatrixEndpoints) -> String {
        let target: String
        switch c.sink.rawValue {
        case "postgres": target = "connection_ref: matrix_pg, table: {schema: \(e.namespace), name: dst}"
        case "mssql": target = "connection_ref: matrix_mssql, table: {schema: dbo, name: dst}"
        case "clickhouse": target = "connection_ref: matrix_ch, table: {schema: \(e.namespace), name: dst}"
        case "bigquery": target = "connection: {url: \"bigquery://\(e.bigqueryProject)\"}, table: {schema: \(e.namespace), name: dst}"
        default: target = "connection_ref: matrix_kafka, topic: \(e.sinkTopic)"
        }
        let options = c.sink == "mssql" ? ", options: {trust_server_certificate: true}" : ""
        return "{type: \(c.sink.rawValue), \(target), strategy: \(strategy(c, e))\(options)}"
    }

    static func strategy(_ c: MatrixCase, _ e: MatrixEndpoints) -> String {
        switch c.strategy {
        case .fullRefresh: "{mode: full_refresh}"
        case .incrementalAppend: "{mode: incremental_append}"
        case .incrementalMerge, .xmin: "{mode: incremental_merge, unique_key: [id]}"
        case .replace: "{mode: replace, custom_predicate: \"bucket = 1\"}"
        case .snapshotDiff: "{mode: snapshot_diff, unique_key: [id], diff: {delete_policy: hard_delete}}"
        case .partitionReplace: "{mode: partition_replace, partition: {column: bucket}}"
        case .scd2: "{mode: scd2, unique_key: [id], scd2: {delete_policy: expire}}"
        case .backfill:
            "{mode: backfill, backfill: {column: id, from: 1, to: \(MatrixModel.backfillTo), chunk: \(MatrixModel.backfillChunk), inner_mode: replace, parallel_workers: 2, id: \(e.backfillID)}}"
        case .cdc: "{mode: cdc_apply, unique_key: [id]}"
        }
    }

    static func optionList(_ options: [String]) -> String {
        options.isEmpty ? "" : ", options: {\(options.joined(separator: ", "))}"
    }
}
