import Flow

extension ManifestDecoder {
    static let strategyKeys = [
        "mode", "unique_key", "only_new_rows", "overwrite_type", "custom_predicate", "merge_policy", "duplicate_policy",
        "diff", "scd2", "partition", "backfill",
    ]
    static let backfillKeys = ["column", "from", "to", "chunk", "inner_mode", "parallel_workers", "id", "lease_seconds"]

    /// `sink.strategy`, checked against the sink type's capabilities and the mode's key requirement.
    func strategy(_ ref: NodeRef, sink: any EndpointSpec) -> StrategyConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        let before = ctx.errors.count
        map.rejectUnknownKeys(Self.strategyKeys, ctx)
        var config = StrategyConfig()
        if let modeRef = map.required("mode", ctx), let mode: LoadMode = ctx.choice(modeRef, "strategy mode") {
            config.mode = mode
            let supported = sink.supportedModes
            if !supported.contains(mode) {
                ctx.fail(
                    modeRef,
                    "strategy mode '\(mode.rawValue)' is not supported by a \(sink.type.rawValue) sink; supported: "
                        + supported.map(\.rawValue).joined(separator: ", "))
            }
        }
        if let r = map["unique_key"], let keys = ctx.stringOrList(r) {
            if keys.isEmpty { ctx.fail(r, "'unique_key' must name at least one column") }
            config.uniqueKey = keys
        }
        if let r = map["backfill"] {
            if config.mode != .backfill {
                ctx.fail(r, "'backfill' applies only to strategy mode 'backfill'", hint: "remove it, or set mode: backfill")
            } else {
                config.backfill = backfill(r, sink: sink)
            }
        } else if config.mode == .backfill, sink.supportedModes.contains(.backfill) {
            ctx.fail(
                at: ref.ownerMark, ref.path, "missing required key 'backfill' (strategy mode 'backfill' loads a range in chunks)",
                hint: "add backfill: {column: order_date, from: '2026-01-01', to: '2026-04-01', chunk: 7 days}")
        }
        let keyedMode = config.mode == .backfill ? (config.backfill?.innerMode ?? .replace) : config.mode
        if keyedMode.requiresUniqueKey, !map.has("unique_key") {
            ctx.fail(
                at: ref.ownerMark, ref.path,
                "missing required key 'unique_key' (strategy mode '\(keyedMode.rawValue)' matches rows by key)",
                hint: "add unique_key: [id] (a column or a list of columns)")
        }
        if let r = map["only_new_rows"], let b = ctx.bool(r) { config.onlyNewRows = b }
        if let r = map["overwrite_type"], let o: OverwriteType = ctx.choice(r, "overwrite type") {
            config.overwriteType = o
        }
        config.customPredicate = map["custom_predicate"].flatMap { ctx.string($0) }
        if config.mode == .replace, sink.address == .table, config.customPredicate == nil {
            ctx.fail(
                at: ref.ownerMark, ref.path,
                "missing required key 'custom_predicate' (strategy mode 'replace' rewrites the rows it matches)",
                hint: "add custom_predicate: \"order_date >= '2026-01-01'\"")
        }
        if let r = map["merge_policy"] {
            let allowed = sink.mergePolicies
            if allowed.isEmpty {
                ctx.fail(r, "a \(sink.type.rawValue) sink has no merge_policy", hint: "remove merge_policy")
            } else if let p: MergePolicy = ctx.choice(r, "\(sink.type.rawValue) merge policy", allowed: allowed) {
                config.mergePolicy = p
            }
        }
        if let r = map["duplicate_policy"], let text = ctx.string(r) {
            if text == "last" && !sink.keepsLastDuplicate {
                ctx.fail(r, "duplicate_policy 'last' needs a postgres sink", hint: "\(sink.type.rawValue) sinks refuse keys staged twice (fail)")
            } else if text == "fail" || text == "last" {
                config.duplicatePolicy = text
            } else {
                ctx.fail(r, "unknown duplicate policy '\(text)'; expected: fail, last", hint: "fail refuses a key staged twice in one checkpoint; last keeps its last row")
            }
        }
        if let r = map["diff"], let diff = ctx.mapping(r) {
            diff.rejectUnknownKeys(["delete_policy", "compare"], ctx)
            if let p = diff["delete_policy"], let v: DiffDeletePolicy = ctx.choice(p, "delete policy") {
                config.diffDeletePolicy = v
            }
            if let c = diff["compare"], let text = ctx.string(c), text != "row_hash" {
                ctx.fail(c, "unknown diff comparison '\(text)'; expected: row_hash")
            }
        }
        if let r = map["partition"], let partition = ctx.mapping(r) {
            partition.rejectUnknownKeys(["column", "max_partitions_per_run"], ctx)
            config.partitionColumn = partition.required("column", ctx).flatMap { ctx.string($0) }
            if let m = partition["max_partitions_per_run"], let n = ctx.int(m) {
                if n < 1 { ctx.fail(m, "expected a positive integer, found \(n)") } else { config.maxPartitionsPerRun = n }
            }
        } else if config.mode == .partitionReplace || config.backfill?.innerMode == .partitionReplace, sink.address == .table {
            ctx.fail(
                at: ref.ownerMark, ref.path,
                "missing required key 'partition' (strategy mode 'partition_replace' rewrites whole partitions)",
                hint: "add partition: {column: order_date}")
        }
        if let r = map["scd2"], let scd2 = ctx.mapping(r) {
            scd2.rejectUnknownKeys(["delete_policy"], ctx)
            if let p = scd2["delete_policy"], let v: HistoryDeletePolicy = ctx.choice(p, "delete policy") {
                config.historyDeletePolicy = v
            }
        }
        return ctx.errors.count == before ? config : nil
    }

    /// `strategy.backfill`: its keys, the inner mode against the sink's modes, and the chunk plan
    /// (an empty range or a chunk size that does not fit the column's values fails at its key).
    func backfill(_ ref: NodeRef, sink: any EndpointSpec) -> BackfillConfig? {
        guard let map = ctx.mapping(ref) else { return nil }
        let before = ctx.errors.count
        map.rejectUnknownKeys(Self.backfillKeys, ctx)
        let column = map.required("column", ctx).flatMap { ctx.string($0) }
        let from = map.required("from", ctx).flatMap { ctx.string($0) }
        let to = map.required("to", ctx).flatMap { ctx.string($0) }
        var inner = LoadMode.replace
        if let r = map["inner_mode"], let mode: LoadMode = ctx.choice(r, "backfill inner mode", allowed: BackfillConfig.innerModes) {
            inner = mode
            if !sink.supportedModes.contains(mode) {
                ctx.fail(r, "backfill inner mode '\(mode.rawValue)' is not supported by a \(sink.type.rawValue) sink")
            }
        }
        let chunk: String?
        if inner == .fullRefresh {
            chunk = map["chunk"].flatMap { ctx.string($0) } ?? ""
        } else {
            chunk = map.required("chunk", ctx).flatMap { ctx.string($0) }
        }
        guard ctx.errors.count == before, let column, let from, let to, let chunk else { return nil }
        var config = BackfillConfig(column: column, from: from, to: to, chunk: chunk)
        config.innerMode = inner
        if let r = map["parallel_workers"], let n = ctx.positiveInt(r) {
            if n > 64 { ctx.fail(r, "parallel_workers \(n) is more than 64 lanes in one process", hint: "run more processes instead") }
            config.parallelWorkers = n
        }
        if let r = map["lease_seconds"], let n = ctx.positiveInt(r) { config.leaseSeconds = n }
        if let r = map["id"], let id = ctx.string(r) {
            let valid = !id.isEmpty && id.count <= 64 && id.unicodeScalars.allSatisfy { c in
                c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-")
            }
            if valid { config.id = id } else { ctx.fail(r, "invalid backfill id '\(id)'", hint: "use up to 64 letters, digits, '_' and '-'") }
        }
        do {
            _ = try BackfillPlan.make(config)
        } catch let error as DponeError {
            let key = error.context["key"].flatMap { $0.split(separator: ".").last.map(String.init) } ?? "from"
            ctx.fail(map[key] ?? ref, error.message)
        } catch {
            ctx.fail(ref, "\(error)")
        }
        return ctx.errors.count == before ? config : nil
    }
}
