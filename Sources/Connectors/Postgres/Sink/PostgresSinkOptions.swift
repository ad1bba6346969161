import ConnectorKit
import Flow

/// Where and how a `PostgresSink` publishes (the fields every staged-table sink has are in
/// `staged`, read as this type's own).
@dynamicMemberLookup
public struct PostgresSinkOptions: Sendable {
    public var staged: StagedTargetOptions
    public var target: TableName
    /// Schema of the attempt-local staging table (default: the target's).
    public var stagingSchema: String?
    /// `incremental_merge` from a source that emits delete rows (Kafka tombstones, delete events):
    /// each row's operation and order are staged, each key's last row wins, and a key whose last row
    /// is a delete is removed from the target.
    public var stagesOperations = false
    /// The `incremental_merge` policies this sink publishes by.
    public static let mergePolicies: [MergePolicy] = [.deleteInsert, .upsert]
    /// The idempotency ledger: one row per published (pipeline, target, checkpoint), written in the
    /// publish transaction. Default `<target schema>.__dpone__loads`.
    public var ledger: TableName
    /// With target-atomic state: the state table (on the sink's database) whose row for the pipeline
    /// is written in the publish transaction; nil when state lives elsewhere.
    public var targetAtomicState: TableName?
    /// How many ledger rows per pipeline and target are kept (older ones are pruned on publish).
    public var ledgerRetention: Int
    /// cdc_apply from a source whose `__dpone__lsn` only grows from one checkpoint to the next and
    /// never splits one lsn across checkpoints (PostgreSQL logical replication: commit order, a
    /// checkpoint only between transactions). Then every staged event at or below the highest lsn
    /// already published (the ledger's `applied_lsn`) is dropped before the fill and the apply, so
    /// a replay after a crash between publish and state is exactly a first application. Without it
    /// (events from several Kafka partitions, say) only the per-row lsn guard applies.
    public var monotonicLSN: Bool
    /// Keys staged more than once in a checkpoint (modes that match by key): false fails the
    /// checkpoint before the target changes; true keeps each key's last staged row (a Kafka topic's
    /// later message for the key), dropping the earlier ones in staging first.
    public var keepLastDuplicate: Bool = false

    public init(
        url: String, target: TableName, stagingSchema: String? = nil, mode: LoadStrategy, uniqueKey: [String] = [],
        ledger: TableName? = nil, targetAtomicState: TableName? = nil,
        ledgerRetention: Int = 1000, loadID: String? = nil, monotonicLSN: Bool = false
    ) {
        self.staged = StagedTargetOptions(url: url, mode: mode, uniqueKey: uniqueKey, loadID: loadID)
        self.monotonicLSN = monotonicLSN
        self.target = target
        self.stagingSchema = stagingSchema
        self.ledger = ledger ?? TableName(schema: target.schema, name: "__dpone__loads")
        self.targetAtomicState = targetAtomicState
        self.ledgerRetention = ledgerRetention
    }
}

extension PostgresSinkOptions {
    public subscript<T>(dynamicMember field: WritableKeyPath<StagedTargetOptions, T>) -> T {
        get { staged[keyPath: field] }
        set { staged[keyPath: field] = newValue }
    }
}
