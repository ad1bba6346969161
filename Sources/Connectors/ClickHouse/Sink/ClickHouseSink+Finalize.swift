import ConnectorKit
import Flow
import Foundation

extension ClickHouseSink {
    /// Publishes the checkpoint's staged rows (see the type's documentation for each strategy).
    /// Idempotent for a repeated checkpoint: the ledger is consulted before anything is published,
    /// and each publishing step is safe to repeat.
    public func finalize(_ context: CheckpointContext) async throws -> SinkCommit {
        let client = try self.client
        do {
            try await finishStaging()
            var plan = publishPlan()
            plan.complete = context.isComplete
            if options.mode.detectsDeletes, !context.isComplete {
                logger.notice(
                    "checkpoint is not a complete copy of the source: target rows missing from it are not deleted",
                    metadata: ["table": "\(options.target)", "checkpoint": "\(context.id)"])
            }
            var dialect = ClickHouseDialect(sink: self, client: client, plan: plan)
            var commit = try await StagedTableDriver.publish(context, through: &dialect, reappliesReplays: options.mode == .cdcApply)
            commit.schemaChanges = widenings
            widenings = []
            state.truncate = nil
            logger.info(
                "published", metadata: ["table": "\(options.target)", "checkpoint": "\(context.id)", "inserted": "\(commit.inserted)"])
            return commit
        } catch {
            await dropAttemptTables(on: client)
            throw Self.sinkError(error)
        }
    }

    /// Ends the insert stream, or creates an empty staging table when nothing was written (an empty
    /// checkpoint still drives the strategy: a full refresh of an empty source empties the target).
    func finishStaging() async throws {
        let (stream, created) = (state.stream, state.stagingCreated)
        state.stream = nil
        if let stream {
            _ = try await stream.finish()
        } else if !created {
            try await createStaging()
        }
    }

    func publishPlan() -> ClickHousePublishPlan {
        let (schema, types, technical) = (state.schema, state.stagingTypes, state.technicalColumns)
        let keyed = options.mode.matchesByKey
        let required = ClickHouseTargetShape.notNullColumns(mode: options.mode, uniqueKey: keyed ? options.uniqueKey : [])
        let names = schema?.names ?? []
        let nullableRequired = zip(names, types).filter { required.contains($0.0) && $0.1.isNullable }.map(\.0)
        return ClickHousePublishPlan(
            target: options.target, staging: staging, publish: publishTable, displaced: displaced, columns: names,
            uniqueKey: options.uniqueKey, mode: options.mode, technicalColumns: technical,
            nullableRequiredColumns: nullableRequired, lightweightDelete: usesLightweightDelete)
    }

    /// Whether deletes run as lightweight `DELETE FROM` (servers with the capability).
    var usesLightweightDelete: Bool { state.server?.supports(.lightweightDelete) ?? false }

    /// Settings that make a delete or update of the target return only when it is done, on servers
    /// that have them (18.16 has none: the sink then polls `system.mutations`):
    /// `mutations_sync = 2` (ALTER mutations; lightweight DELETE before 24.4 as well),
    /// `lightweight_deletes_sync = 2` (lightweight DELETE since 24.4, its default there anyway),
    /// `allow_experimental_lightweight_delete = 1` (lightweight DELETE was experimental before 23.3).
    func mutationSettings(_ sql: String) -> [String: String] {
        guard let server = state.server, server.supports(.lightweightDelete) else { return [:] }
        var settings = ["mutations_sync": "2"]
        if sql.hasPrefix("DELETE FROM ") {
            if server.version >= ClickHouseVersion(major: 24, minor: 4) { settings["lightweight_deletes_sync"] = "2" }
            if server.version < ClickHouseVersion(major: 23, minor: 3) { settings["allow_experimental_lightweight_delete"] = "1" }
        }
        return settings
    }

    func publish(_ plan: ClickHousePublishPlan, checkpoint: UInt64, on client: ClickHouseClient) async throws -> SinkCommit {
        switch options.mode {
        case .fullRefresh:
            return try await fullRefresh(plan, checkpoint: checkpoint, on: client)
        case .incrementalAppend:
            try await removeUnledgered(plan, checkpoint: checkpoint, on: client)
            try await client.execute(plan.appendInsert(checkpoint))
            FaultPoint.midFinalize.trigger()
            return SinkCommit(inserted: try await scalar(plan.countTagged(checkpoint), on: client))
        case .incrementalMerge(let policy):
            let staged = try await scalar(plan.count(plan.staging), on: client)
            let updated = try await scalar(plan.mergeUpdatedCount(checkpoint), on: client)
            switch policy {
            case .replacingMergeTree, .deleteInsert, .upsert:
                // (Postgres policies never get here: `validate` refuses them when the sink opens.)
                try await client.execute(plan.tagInsert(into: plan.target, checkpoint: checkpoint))
                FaultPoint.midFinalize.trigger()
            case .mutationDeleteInsert:
                // Deleting every staged key also removes rows a crashed attempt of this checkpoint
                // inserted, so a replay converges.
                try await mutate(plan.mergeDelete(), plan, what: "the delete of the merged keys", on: client)
                FaultPoint.midFinalize.trigger()
                try await client.execute(plan.tagInsert(into: plan.target, checkpoint: checkpoint))
            case .shadowSwap:
                for statement in plan.createLikeTarget(plan.publish) { try await client.execute(statement, idempotent: true) }
                try await client.execute(plan.shadowCopyUnmerged())
                try await client.execute(plan.tagInsert(into: plan.publish, checkpoint: checkpoint))
                try await swapPublishTable(plan)
            }
            return SinkCommit(inserted: staged - updated, updated: updated)
        case .partitionReplace:
            return try await partitionReplace(plan, checkpoint: checkpoint, on: client)
        case .replace(let predicate):
            try await removeUnledgered(plan, checkpoint: checkpoint, on: client)
            let deleted = try await scalar(plan.replaceWindowCount(predicate), on: client)
            try await mutate(plan.replaceDelete(predicate), plan, what: "the delete of the replace window", on: client)
            FaultPoint.midFinalize.trigger()
            try await client.execute(plan.appendInsert(checkpoint))
            return SinkCommit(inserted: try await scalar(plan.countTagged(checkpoint), on: client), deleted: deleted)
        case .snapshotDiff, .scd2:
            return try await diff(plan, checkpoint: checkpoint, on: client)
        case .cdcApply:
            throw DponeError(.internal, "cdc_apply publishes through cdcApply")
        }
    }

    /// cdc_apply (see `ClickHouseCDCApplySQL`): one row per staged key above the applied lsn.
    /// Returns the commit and the lsn the ledger records as applied.
    func cdcApply(_ context: CheckpointContext, on client: ClickHouseClient) async throws -> (SinkCommit, Int64) {
        let applied = try await ledger.applied(context.pipeline, on: client)
        let (values, notNull, truncate) = (state.cdcValues, state.cdcNotNull, state.truncate)
        var sql = ClickHouseCDCApplySQL(
            target: options.target, staging: staging, key: options.uniqueKey, values: values, notNullValues: notNull,
            applied: applied)
        // A TRUNCATE of the source the target has not seen yet (a replayed one is at or below the
        // applied lsn): the target is emptied, and only the events staged after it apply. Repeating
        // it after a crash in between converges: the same TRUNCATE, then the same events.
        var emptied = 0
        var truncatedAt: Int64 = 0
        if let truncate, applied.map({ truncate.lsn > $0 }) ?? true {
            truncatedAt = truncate.lsn
            emptied = try await scalar(
                "SELECT count() FROM \(options.target.sql) FINAL WHERE \(ClickHouseSQL.quoteIdentifier(TechnicalColumns.isDeleted)) = 0",
                on: client)
            try await client.execute("TRUNCATE TABLE \(options.target.sql)", idempotent: true)
            sql.fromSequence = truncate.sequence
            logger.notice(
                "the source table was truncated: the target was emptied",
                metadata: ["table": "\(options.target)", "checkpoint": "\(context.id)", "rows": "\(emptied)"])
        }
        if try await scalar(sql.movedCount(), on: client) > 0 {
            let chained = try await scalar(sql.chainCheck(), on: client)
            if chained > 0 {
                throw DponeError(
                    .sink,
                    "\(chained) staged key change(s) of \(options.target) leave columns unchanged (TOAST) whose values come from a key changed earlier in the same checkpoint, which the ClickHouse cdc_apply does not resolve; the target is untouched",
                    hint: "a shorter --checkpoint-interval separates the key changes, or set REPLICA IDENTITY FULL on the source table",
                    context: ["table": options.target.description, "checkpoint": "\(context.id)"])
            }
        }
        let counts = try await client.queryRows(sql.counts()).first ?? []
        let number = { (i: Int) in counts.count > i ? Int(counts[i]) ?? 0 : 0 }
        let top = Int64(try await client.queryRows(sql.maxPending()).first?.first ?? "0") ?? 0
        // A snapshot checkpoint first applied (no staged event at or below the watermark) also
        // retires the target keys the snapshot lacks.
        var prune: (count: String, insert: String)?
        var pruneVersion: Int64 = 0
        if context.isComplete {
            let row = try await client.queryRows(sql.stagedAtOrBelowApplied()).first ?? []
            if row.first == "0" {
                let stagedTop = row.count > 1 ? Int64(row[1]) ?? 0 : 0
                pruneVersion = stagedTop > 0 ? stagedTop : (applied ?? 0) + 1
                prune = sql.snapshotPrune(version: pruneVersion, checkpoint: context.id.rawValue)
            }
        }
        var pruned = 0
        if let prune { pruned = try await scalar(prune.count, on: client) }
        try await client.execute(sql.insert(checkpoint: context.id.rawValue))
        FaultPoint.midFinalize.trigger()
        if let prune, pruned > 0 {
            try await client.execute(prune.insert)
            logger.notice(
                "keys absent from the snapshot were deleted (an earlier snapshot of the table was published)",
                metadata: ["table": "\(options.target)", "checkpoint": "\(context.id)", "rows": "\(pruned)"])
        }
        return (
            SinkCommit(inserted: number(0), updated: number(1), deleted: number(2) + pruned + emptied),
            max(applied ?? 0, top, pruned > 0 ? pruneVersion : 0, truncatedAt)
        )
    }

    /// `snapshot_diff` and `scd2`: counts first, then the mutations (each awaited), then the insert.
    /// Every statement is set-based on (key, row hash), so a replay after a crash anywhere converges.
    func diff(_ plan: ClickHousePublishPlan, checkpoint: UInt64, on client: ClickHouseClient) async throws -> SinkCommit {
        let counts = try await client.queryRows(plan.diffCounts()).first ?? []
        let number = { (i: Int) in counts.count > i ? Int(counts[i]) ?? 0 : 0 }
        let ts = loadTimestampSQL(Date())
        for (i, mutation) in plan.diffMutations(ts: ts).enumerated() {
            try await mutate(mutation, plan, what: "\(options.mode.name) mutation", on: client)
            if i == 0 { FaultPoint.midFinalize.trigger() }
        }
        try await client.execute(plan.diffInsert(checkpoint, ts: ts))
        return SinkCommit(inserted: number(0), updated: number(1), deleted: number(2))
    }

    /// The load timestamp as SQL: `DateTime64(6, 'UTC')` where the server has it, else the codec's
    /// String form `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
    func loadTimestampSQL(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        func pad(_ v: Int?, _ width: Int) -> String {
            let text = String(v ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let text = "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2)) \(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)).\(pad(Int(fraction), 6))"
        let modern = state.server.map { ClickHouseTypeSupport(server: $0).supportsDateTime64 } ?? false
        return modern ? "toDateTime64(\(ClickHouseSQL.quoteLiteral(text)), 6, 'UTC')" : ClickHouseSQL.quoteLiteral(text)
    }

    /// Runs a delete (lightweight `DELETE FROM` or `ALTER TABLE ... DELETE`) or an `ALTER TABLE ...
    /// UPDATE` of the target and waits until it is done: synchronously where the server has the
    /// settings (`mutationSettings`), then (always) by polling `system.mutations`.
    func mutate(_ sql: String, _ plan: ClickHousePublishPlan, what: String, on client: ClickHouseClient) async throws {
        try await client.execute(sql, settings: mutationSettings(sql))
        try await awaitMutations(plan, what: what, on: client)
    }

    func awaitMutations(_ plan: ClickHousePublishPlan, what: String, on client: ClickHouseClient) async throws {
        let deadline = Date().addingTimeInterval(options.mutationTimeoutSeconds)
        while try await scalar(plan.pendingMutations(), on: client) > 0 {
            guard Date() < deadline else {
                throw DponeError(
                    .sink, "\(what) on \(plan.target) did not finish in \(Int(options.mutationTimeoutSeconds)) s",
                    hint: "check system.mutations on the server", context: ["table": plan.target.description])
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Tags the staged rows into a copy of the target and swaps it in.
    func fullRefresh(_ plan: ClickHousePublishPlan, checkpoint: UInt64, on client: ClickHouseClient) async throws -> SinkCommit {
        let previous = try await scalar(plan.count(plan.target), on: client)
        try await tagIntoPublishTable(plan, checkpoint: checkpoint, on: client)
        let inserted = try await scalar(plan.count(plan.publish), on: client)
        try await swapPublishTable(plan)
        return SinkCommit(inserted: inserted, deleted: previous)
    }

    /// Swaps the publish table in as the target: `EXCHANGE TABLES` where supported, else a RENAME
    /// pair; the `midFinalize` fault fires right after the target changed.
    func swapPublishTable(_ plan: ClickHousePublishPlan) async throws {
        let client = try self.client
        let exchange = state.server?.supports(.exchangeTables) ?? false
        for (i, statement) in plan.swap(exchange: exchange).enumerated() {
            try await client.execute(statement)
            if i == (exchange ? 0 : 1) { FaultPoint.midFinalize.trigger() }
        }
    }

    /// Replaces exactly the staged partitions, one idempotent `REPLACE PARTITION` each.
    func partitionReplace(_ plan: ClickHousePublishPlan, checkpoint: UInt64, on client: ClickHouseClient) async throws -> SinkCommit {
        try await tagIntoPublishTable(plan, checkpoint: checkpoint, on: client)
        let inserted = try await scalar(plan.count(plan.publish), on: client)
        let ids = try await client.queryRows(plan.partitionIDs(of: plan.publish)).compactMap(\.first)
        guard !ids.isEmpty else { return SinkCommit() }
        let deleted = try await scalar(plan.rowsInPartitions(ids), on: client)
        for (i, id) in ids.enumerated() {
            try await client.execute(plan.replacePartition(id))
            if i == 0 { FaultPoint.midFinalize.trigger() }
        }
        return SinkCommit(inserted: inserted, deleted: deleted)
    }

    func tagIntoPublishTable(_ plan: ClickHousePublishPlan, checkpoint: UInt64, on client: ClickHouseClient) async throws {
        for statement in plan.createLikeTarget(plan.publish) { try await client.execute(statement, idempotent: true) }
        try await client.execute(plan.tagInsert(into: plan.publish, checkpoint: checkpoint))
    }

    /// Deletes rows a previous attempt of `checkpoint` inserted without reaching its ledger row (the
    /// ledger was checked first), and waits for the delete (see `mutate`).
    func removeUnledgered(_ plan: ClickHousePublishPlan, checkpoint: UInt64, on client: ClickHouseClient) async throws {
        guard try await scalar(plan.countTagged(checkpoint), on: client) > 0 else { return }
        logger.notice("removing rows of an unfinished attempt", metadata: ["table": "\(plan.target)", "checkpoint": "\(checkpoint)"])
        try await mutate(plan.deleteTagged(checkpoint), plan, what: "the delete of checkpoint \(checkpoint)'s partial rows", on: client)
        if try await scalar(plan.countTagged(checkpoint), on: client) > 0 {
            throw DponeError(.sink, "rows of checkpoint \(checkpoint) remain in \(plan.target) after their delete", context: ["table": plan.target.description])
        }
    }

    /// The first value of a one-row, one-column result as an Int (0 when empty or NULL).
    func scalar(_ sql: String, on client: ClickHouseClient) async throws -> Int {
        let text = try await client.queryRows(sql).first?.first ?? "0"
        return Int(text) ?? 0
    }
}
