import Flow

/// A TRUNCATE of a CDC source (`on_truncate: truncate_target`) as it reaches a staged-table sink: a
/// batch whose only row has `RowOperation.truncate` and the lsn of its transaction. A `cdc_apply`
/// sink notes where it fell among the staged events and, when publishing the checkpoint, empties
/// the target and applies only the events after it.
public enum TruncateMarker {
    /// The lsn of the truncate `batch` carries, nil when it is a batch of rows.
    /// - Throws: `DponeError(.usage)` naming `target` when the sink is not a `cdc_apply` one.
    public static func lsn(in batch: Batch, cdcApply: Bool, target: String) throws -> Int64? {
        guard batch.operations?.first == .truncate else { return nil }
        guard cdcApply, let i = batch.schema.index(of: TechnicalColumns.lsn), case .int(let lsn) = batch.columns[i].value(at: 0) else {
            throw DponeError(
                .usage, "the source table was truncated; only a cdc_apply target can follow a TRUNCATE",
                hint: "set source.options.cdc.on_truncate: fail", context: ["table": target])
        }
        return lsn
    }
}
