import Flow

/// A check on the staged rows that must find nothing before the target is touched. Which checks a
/// checkpoint needs is decided here, once for every database sink; each dialect renders them as
/// one query returning a count that must be 0.
public enum StagingCheck: Sendable, Equatable {
    /// `partition_replace`: more distinct partitions than `max_partitions_per_run`.
    case partitionsOverLimit(column: String, max: Int)
    /// `replace`: rows the window does not cover (false or unknown), which would survive the next
    /// replace of the same window as duplicates.
    case rowsOutsideWindow(predicate: String)
    /// A NULL in any unique-key column.
    case nullKeys([String])
    /// A key staged twice (change events repeat keys by nature: not checked for `cdc_apply`).
    case duplicateKeys([String])

    /// What a violation is called in errors and `--dry-run`.
    public var what: String {
        switch self {
        case .partitionsOverLimit(_, let max): "partitions more than max_partitions_per_run (\(max))"
        case .rowsOutsideWindow(let predicate): "rows outside the replace window (\(predicate))"
        case .nullKeys: "rows with a NULL unique key"
        case .duplicateKeys: "duplicate unique keys"
        }
    }

    /// The checks `mode` needs with `uniqueKey`.
    public static func required(for mode: LoadStrategy, uniqueKey: [String]) -> [StagingCheck] {
        if case .partitionReplace(let column, let max) = mode { return [.partitionsOverLimit(column: column, max: max)] }
        if case .replace(let predicate) = mode { return [.rowsOutsideWindow(predicate: predicate)] }
        guard mode.matchesByKey, !uniqueKey.isEmpty else { return [] }
        if mode == .cdcApply { return [.nullKeys(uniqueKey)] }
        return [.nullKeys(uniqueKey), .duplicateKeys(uniqueKey)]
    }
}
