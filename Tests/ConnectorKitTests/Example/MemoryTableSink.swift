import ConnectorKit
import Flow
import Synchronization

/// The guide's "database": a table of `n -> label` with a ledger, changed only by committed
/// transactions.
final class MemoryDatabase: Sendable {
    struct Contents: Sendable {
        var rows: [Int64: String] = [:]
        var ledger: [UInt64: SinkCommit] = [:]
    }

    let committed = Mutex(Contents())
}

/// The guide's staged-table sink: batches are staged (a real sink would COPY them into a staging
/// table), and each checkpoint is published through `StagedTableDriver` with `MemoryDialect`.
/// An actor: one task drives a sink, and the actor isolates its staging without a lock. (A sink
/// whose work blocks, like file I/O, runs on its own `DedicatedThread` by making it the actor's
/// executor, as `FileSink` does.)
actor MemoryTableSink: SinkOperator {
    nonisolated let name = "memory"
    let database: MemoryDatabase
    private var staged: [(Int64, String)] = []

    init(database: MemoryDatabase) { self.database = database }

    func open(schema: Schema) async throws {
        guard schema.index(of: "n") != nil else { throw DponeError(.schema, "the memory table needs a column n") }
    }

    func write(_ batch: Batch) async throws {
        guard case .int64(let numbers) = batch.columns[0].values else { return }
        let rows = numbers.enumerated().map { (i, n) -> (Int64, String) in
            guard case .string(let label) = batch.columns[1].value(at: i) else { return (n, "") }
            return (n, label)
        }
        staged.append(contentsOf: rows)
    }

    func finalize(_ context: CheckpointContext) async throws -> SinkCommit {
        let rows = staged
        staged = []
        var dialect = MemoryDialect(database: database, staged: rows)
        return try await StagedTableDriver.publish(context, through: &dialect)
    }

    func abort() async { staged = [] }
}

/// How the memory database does each step of the publish sequence. The driver decides the order;
/// the dialect only says how.
struct MemoryDialect: TargetDialect {
    let database: MemoryDatabase
    let staged: [(Int64, String)]
    /// The open transaction's view of the database.
    private var transaction: MemoryDatabase.Contents?

    init(database: MemoryDatabase, staged: [(Int64, String)]) {
        self.database = database
        self.staged = staged
    }

    var publishesInOneTransaction: Bool { true }
    var targetName: String { "memory.table" }
    var ledgerName: String { "memory.ledger" }

    mutating func begin() async throws { transaction = database.committed.withLock { $0 } }

    mutating func commit() async throws {
        guard let transaction else { throw DponeError(.internal, "no transaction") }
        database.committed.withLock { $0 = transaction }
        self.transaction = nil
    }

    mutating func rollback() async { transaction = nil }

    mutating func readLedger(_ context: CheckpointContext) async throws -> (published: SinkCommit?, newest: CheckpointID?) {
        let ledger = transaction?.ledger ?? [:]
        return (ledger[context.id.rawValue], ledger.keys.max().map(CheckpointID.init))
    }

    mutating func checkStaging(_ context: CheckpointContext) async throws -> [StagingViolation] {
        let duplicates = staged.count - Set(staged.map(\.0)).count
        return duplicates > 0 ? [StagingViolation(what: "duplicate unique keys (n)", count: duplicates)] : []
    }

    /// incremental_merge: upsert every staged row by `n`.
    mutating func publish(_ context: CheckpointContext, replay: Bool) async throws -> SinkCommit {
        var commit = SinkCommit()
        for (n, label) in staged {
            if transaction?.rows.updateValue(label, forKey: n) == nil { commit.inserted += 1 } else { commit.updated += 1 }
        }
        return commit
    }

    mutating func recordLedger(_ context: CheckpointContext, _ commit: SinkCommit) async throws {
        var recorded = commit
        recorded.publishedPositions = context.positions
        transaction?.ledger[context.id.rawValue] = recorded
    }

    mutating func dropStaging() async {}
}
