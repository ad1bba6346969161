import Flow
import Foundation

/// The `__dpone__loads` idempotency ledger of a ClickHouse target: one row per published
/// (pipeline, target, checkpoint), written after the publishing steps. A checkpoint found in it is a
/// replay: nothing is published again and the recorded counts and positions are returned.
struct ClickHouseLedger: Sendable {
    let table: ClickHouseTableName
    let target: String

    var ddl: String {
        """
        CREATE TABLE IF NOT EXISTS \(table.sql) (pipeline String, target String, checkpoint UInt64, load_id String, \
        run_id String, positions String, inserted UInt64, updated UInt64, deleted UInt64, committed_at DateTime DEFAULT now(), \
        applied_lsn Int64 DEFAULT 0) \
        ENGINE = MergeTree ORDER BY (pipeline, target, checkpoint)
        """
    }

    private func scope(_ pipeline: String) -> String {
        "pipeline = \(ClickHouseSQL.quoteLiteral(pipeline)) AND target = \(ClickHouseSQL.quoteLiteral(target))"
    }

    func lookupSQL(_ context: CheckpointContext) -> String {
        "SELECT positions, inserted, updated, deleted FROM \(table.sql) WHERE \(scope(context.pipeline)) AND checkpoint = \(context.id.rawValue) LIMIT 1"
    }

    func newestSQL(_ pipeline: String) -> String {
        "SELECT max(checkpoint) FROM \(table.sql) WHERE \(scope(pipeline))"
    }

    /// `applied_lsn` (cdc_apply: the highest lsn the checkpoint applied up to) on a ledger made
    /// before it existed.
    func ensureAppliedColumn(on client: ClickHouseClient) async throws {
        let has = "SELECT count() FROM system.columns WHERE database = \(ClickHouseSQL.quoteLiteral(table.database)) AND table = \(ClickHouseSQL.quoteLiteral(table.name)) AND name = 'applied_lsn'"
        guard try await client.queryRows(has).first?.first == "0" else { return }
        do {
            try await client.execute("ALTER TABLE \(table.sql) ADD COLUMN applied_lsn Int64 DEFAULT 0")
        } catch {
            // Another sink of the same ledger may have added it meanwhile.
            guard try await client.queryRows(has).first?.first != "0" else { throw error }
        }
    }

    /// cdc_apply: the highest lsn published to the target (nil when nothing was).
    func applied(_ pipeline: String, on client: ClickHouseClient) async throws -> Int64? {
        let row = try await client.queryRows("SELECT count(), max(applied_lsn) FROM \(table.sql) WHERE \(scope(pipeline))").first
        guard let row, row.count == 2, row[0] != "0" else { return nil }
        return Int64(row[1])
    }

    func recordSQL(_ context: CheckpointContext, _ commit: SinkCommit, appliedLSN: Int64 = 0) throws -> String {
        let positions = String(decoding: try JSONEncoder().encode(context.positions), as: UTF8.self)
        let text = [context.pipeline, target, String(context.id.rawValue), context.loadID, context.runID, positions]
        let values = text.enumerated().map { $0.offset == 2 ? $0.element : ClickHouseSQL.quoteLiteral($0.element) }
            + [commit.inserted, commit.updated, commit.deleted].map { String($0) } + [String(appliedLSN)]
        return "INSERT INTO \(table.sql) (pipeline, target, checkpoint, load_id, run_id, positions, inserted, updated, deleted, applied_lsn) VALUES (\(values.joined(separator: ", ")))"
    }

    /// The commit recorded with the checkpoint, or nil when it was never published.
    func lookup(_ context: CheckpointContext, on client: ClickHouseClient) async throws -> SinkCommit? {
        guard let row = try await client.queryRows(lookupSQL(context)).first, row.count == 4 else { return nil }
        let positions = try JSONDecoder().decode(StateValue.self, from: Data(row[0].utf8))
        return SinkCommit(
            inserted: Int(row[1]) ?? 0, updated: Int(row[2]) ?? 0, deleted: Int(row[3]) ?? 0,
            publishedPositions: positions)
    }

    /// The newest checkpoint of `pipeline` recorded for this target, with its positions.
    func newest(_ pipeline: String, on client: ClickHouseClient) async throws -> PublishedCheckpoint? {
        let rows = try await client.queryRows(
            "SELECT checkpoint, positions FROM \(table.sql) WHERE \(scope(pipeline)) ORDER BY checkpoint DESC LIMIT 1")
        guard let row = rows.first, row.count == 2, let id = UInt64(row[0]) else { return nil }
        let positions = try? JSONDecoder().decode(StateValue.self, from: Data(row[1].utf8))
        return PublishedCheckpoint(id: CheckpointID(id), positions: positions)
    }
}
