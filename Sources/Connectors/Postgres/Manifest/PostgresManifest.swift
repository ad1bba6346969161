import Flow
import Manifest

/// The manifest side of the postgres connector: its option keys, strategies and the rules that
/// span sections (xmin, CDC).
extension PostgresDescriptor {
    static let sourceKeys = ["incremental_strategy", "lookback", "unbounded_numeric", "cdc", "poll_interval"]
    static let cdcKeys = ["slot", "publication", "create", "tables", "snapshot_parallelism", "snapshot_range_mb", "on_truncate"]
    static let cdcTableKeys = ["table", "sink_table", "sink_topic", "unique_key"]

    public var address: EndpointAddress { .table }
    public var urlScheme: String? { "postgresql" }
    public var sourceOptionKeys: [String]? { Self.sourceKeys }
    public var sinkOptionKeys: [String]? { ["schema_evolution"] }
    /// Every mode (backfill publishes each chunk with one of the others: `BackfillRunner`).
    public var supportedModes: [LoadMode] { LoadMode.allCases }
    public var mergePolicies: [MergePolicy] { [.deleteInsert, .upsert] }
    public var keepsLastDuplicate: Bool { true }
    public var holdsTargetAtomicState: Bool { true }
    /// cdc_apply, and incremental_merge (it stages each row's operation when the source sends deletes).
    public func appliesDeletes(_ strategy: StrategyConfig) -> Bool { strategy.mode == .cdcApply || strategy.mode == .incrementalMerge }

    public func routesKey(_ options: NodeRef?) -> String? {
        options?.peek(["cdc", "tables"]) != nil ? "cdc.tables" : nil
    }

    public func decodeSourceOptions(_ options: OptionsReader, into source: inout SourceConfig) {
        guard let map = options.map else { return }
        let ctx = options.ctx
        var settings = PostgresSourceSettings()
        let incrementalColumn = source.options.incrementalColumn
        if let r = map["incremental_strategy"], let strategy: IncrementalStrategy = ctx.choice(r, "incremental strategy") {
            settings.incrementalStrategy = strategy
            if strategy == .xmin, let c = map["incremental_column"] {
                ctx.fail(c, "incremental_column conflicts with incremental_strategy 'xmin'", hint: "use one of them")
            }
            if strategy == .column && incrementalColumn == nil {
                ctx.fail(r, "incremental_strategy 'column' needs incremental_column")
            }
        }
        if let r = map["unbounded_numeric"], let policy: UnboundedNumericPolicy = ctx.choice(r, "unbounded numeric policy") {
            settings.unboundedNumeric = policy
        }
        if let r = map["poll_interval"], let text = ctx.string(r) {
            if let seconds = ManifestDuration.seconds(text) {
                settings.pollInterval = seconds
            } else {
                ctx.fail(r, "invalid poll_interval '\(text)'", hint: "a positive duration: 5s, 500ms, 1m")
            }
            if settings.incrementalStrategy != .xmin && incrementalColumn == nil {
                ctx.fail(r, "poll_interval needs an incremental read", hint: "set incremental_strategy: xmin or incremental_column")
            }
        }
        if let r = map["cdc"] {
            if let (cdc, tables) = cdcOptions(r, ctx) {
                settings.cdc = cdc
                source.options.routes = tables
            }
            for conflicting in ["incremental_column", "incremental_strategy", "lookback", "custom_predicate", "columns", "poll_interval"]
            where map.has(conflicting) {
                ctx.fail(map[conflicting]!, "\(conflicting) cannot be used with cdc", hint: "cdc streams every change of the whole table")
            }
        }
        source.options.postgres = settings
    }

    public func decodeSinkOptions(_ options: OptionsReader, into sink: inout SinkConfig) {}

    /// `cdc: {slot, publication, create, tables, ...}`, strictly.
    func cdcOptions(_ ref: NodeRef, _ ctx: DecodingContext) -> (PostgresCDCOptions, [CDCTableConfig])? {
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(Self.cdcKeys, ctx)
        let slotRef = map.required("slot", ctx)
        let publicationRef = map.required("publication", ctx)
        let slot = slotRef.flatMap { ctx.string($0) }
        let publication = publicationRef.flatMap { ctx.string($0) }
        var create = true
        if let r = map["create"], let b = ctx.bool(r) { create = b }
        var onTruncate = TruncatePolicy.fail
        if let r = map["on_truncate"], let policy: TruncatePolicy = ctx.choice(r, "on_truncate policy") { onTruncate = policy }
        if let slot, let slotRef, !PostgresCDCOptions.isValidSlotName(slot) {
            ctx.fail(slotRef, "invalid replication slot name '\(slot)'", hint: "use 1 to 63 lowercase letters, digits and underscores")
            return nil
        }
        if let publication, let publicationRef, publication.isEmpty || publication.utf8.count > 63 {
            ctx.fail(publicationRef, "invalid publication name '\(publication)'", hint: "use 1 to 63 characters")
            return nil
        }
        var tables: [CDCTableConfig] = []
        if let r = map["tables"], let list = ctx.list(r) {
            if list.isEmpty { ctx.fail(r, "cdc.tables is empty", hint: "list the tables to replicate, or drop the key and set source.table") }
            var seen: Set<String> = []
            for item in list {
                guard let entry = cdcTable(item, ctx) else { continue }
                let name = "\(entry.table.schema ?? "public").\(entry.table.name)"
                if !seen.insert(name).inserted { ctx.fail(item, "table \(name) is listed twice in cdc.tables") }
                tables.append(entry)
            }
        }
        var parallelism: Int?
        if let r = map["snapshot_parallelism"] { parallelism = ctx.positiveInt(r) }
        var rangeMB: Int?
        if let r = map["snapshot_range_mb"] { rangeMB = ctx.positiveInt(r) }
        guard let slot, let publication else { return nil }
        var options = PostgresCDCOptions(slot: slot, publication: publication, create: create, snapshotParallelism: parallelism)
        options.snapshotRangeMB = rangeMB
        options.onTruncate = onTruncate
        return (options, tables)
    }

    /// One entry of `cdc.tables`: `schema.table` or `{table, sink_table, sink_topic, unique_key}`.
    func cdcTable(_ ref: NodeRef, _ ctx: DecodingContext) -> CDCTableConfig? {
        if ref.isScalar {
            return ctx.table(ref).map { CDCTableConfig(table: $0) }
        }
        guard let map = ctx.mapping(ref) else { return nil }
        map.rejectUnknownKeys(Self.cdcTableKeys, ctx)
        guard let table = map.required("table", ctx).flatMap({ ctx.table($0) }) else { return nil }
        var entry = CDCTableConfig(table: table)
        if let r = map["sink_table"] { entry.sinkTable = ctx.table(r) }
        if let r = map["sink_topic"] { entry.sinkTopic = ctx.string(r) }
        if let r = map["unique_key"] {
            entry.uniqueKey = ctx.stringOrList(r)
            if entry.uniqueKey?.isEmpty == true { ctx.fail(r, "unique_key is empty") }
        }
        return entry
    }

    /// An xmin read brings only the rows written since the last run.
    public func partialRead(_ source: SourceConfig, _ document: DocumentReader) -> PartialRead? {
        guard source.options.incrementalStrategy == .xmin else { return nil }
        return PartialRead(
            what: "incremental_strategy 'xmin' reads only rows written since the last run", fix: "drop incremental_strategy",
            at: document.node("source", "options", "incremental_strategy"))
    }

    public func validate(_ manifest: ManifestDocument, as role: EndpointRole, _ document: DocumentReader) -> Bool {
        let mode = manifest.sink.strategy.mode
        switch role {
        case .source:
            if mode == .fullRefresh, manifest.source.options.incrementalStrategy == .xmin,
                let r = document.node("source", "options", "incremental_strategy")
            {
                document.ctx.fail(
                    r, "incremental_strategy 'xmin' cannot be used with strategy mode 'full_refresh'",
                    hint: "use mode incremental_merge (xmin windows re-read changed rows), or drop incremental_strategy")
                return false
            }
            if manifest.source.options.cdc != nil, mode != .cdcApply, let r = document.node("source", "options", "cdc") {
                document.ctx.fail(
                    r, "cdc needs strategy mode 'cdc_apply', found '\(mode.rawValue)'",
                    hint: "set sink.strategy.mode: cdc_apply (changes carry inserts, updates and deletes)")
                return false
            }
        case .sink:
            // A postgres CDC source gives its table's replica identity (or primary key) at start, as
            // every entry of cdc.tables does; another source's changes need the key spelled out.
            let keyedSource = manifest.source.type == .postgres && manifest.source.options.cdc != nil
            if mode == .cdcApply, manifest.sink.strategy.uniqueKey.isEmpty, !keyedSource, let r = document.node("sink", "strategy") {
                document.ctx.fail(
                    r, "missing required key 'unique_key' (strategy mode 'cdc_apply' applies changes by key)",
                    hint: "add unique_key: [id] (the source table's replica identity columns)")
                return false
            }
        }
        return true
    }
}
