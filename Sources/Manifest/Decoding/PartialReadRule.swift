/// A strategy that removes target rows a run did not read (delete detection, a replaced window or
/// partition) is only sound when each run reads the whole source. From a source that reads only
/// what changed (an incremental cursor, xmin, Kafka offsets), it would remove every row that did not
/// change: the manifest is refused, naming the key that makes it so and what to write instead.
extension ManifestDecoder {
    /// Why `source` reads only part of its data on a run after the first, or nil when it reads it
    /// whole; with the node to point at (nil: the `source` mapping itself).
    private func partialRead(_ source: SourceConfig, map: MappingReader) -> PartialRead? {
        if let column = source.options.incrementalColumn {
            return PartialRead(
                what: "incremental_column '\(column)' reads only rows past the last run's cursor", fix: "drop incremental_column",
                at: map.ref.peek(["source", "options", "incremental_column"]))
        }
        return spec(source.type)?.partialRead(source, DocumentReader(ctx: ctx, root: map))
    }

    /// Reports the strategy's refusal and returns false when `sink.strategy` would remove rows that a
    /// partial read did not bring.
    /// A Kafka sink never detects deletes (its `snapshot_diff` emits upserts only): not checked.
    func partialReadFits(source: SourceConfig, sink: SinkConfig, map: MappingReader) -> Bool {
        guard spec(sink.type)?.address == .table else { return true }
        let strategy = sink.strategy
        guard let partial = partialRead(source, map: map) else { return true }
        let strategyMap = map["sink"].flatMap { ctx.mapping($0) }?["strategy"].flatMap { ctx.mapping($0) }
        let modeRef = strategyMap?["mode"]
        let refusal: (at: NodeRef?, message: String, hint: String)
        switch strategy.mode {
        case .snapshotDiff where strategy.diffDeletePolicy != .ignore:
            let policy = strategyMap?["diff"].flatMap { ctx.mapping($0) }?["delete_policy"]
            refusal = (
                policy ?? modeRef,
                "snapshot_diff with delete_policy '\(strategy.diffDeletePolicy.rawValue)' deletes every target row a run did not read, but \(partial.what): each run would delete the rows that did not change",
                "set diff: {delete_policy: ignore} (new and changed rows are still applied; deleted source rows are not detected), or read the whole source on every run (\(partial.fix))"
            )
        case .scd2 where strategy.historyDeletePolicy == .expire:
            let policy = strategyMap?["scd2"].flatMap { ctx.mapping($0) }?["delete_policy"]
            refusal = (
                policy ?? modeRef,
                "scd2 with delete_policy 'expire' closes the current version of every key a run did not read, but \(partial.what): each run would expire the rows that did not change",
                "set scd2: {delete_policy: ignore} (changed rows still get a new version; deleted source rows are not detected), or read the whole source on every run (\(partial.fix))"
            )
        case .replace:
            refusal = (
                modeRef,
                "strategy mode 'replace' deletes the whole custom_predicate window and inserts what a run read, but \(partial.what): the window's rows that did not change would be lost",
                "use mode incremental_merge with a unique_key, or read the window whole on every run (\(partial.fix); restrict the source with its custom_predicate)"
            )
        case .partitionReplace:
            refusal = (
                modeRef,
                "strategy mode 'partition_replace' replaces each partition a run touches with the rows it read, but \(partial.what): a partition's rows that did not change would be lost",
                "use mode incremental_merge with a unique_key, or read the partitions whole on every run (\(partial.fix); restrict the source with its custom_predicate)"
            )
        default:
            return true
        }
        guard let at = refusal.at ?? partial.at ?? map["sink"] else { return false }
        ctx.fail(at, refusal.message, hint: refusal.hint)
        return false
    }
}
