import Flow
import Foundation

/// The SQL of `cdc_apply` into ClickHouse, as data (pure; every statement runs on 18.16 and current
/// servers: no window functions, no correlated subqueries, one JOIN per SELECT level).
///
/// The target is `ReplacingMergeTree(__dpone__version)` ordered by the key, with the business
/// columns, `__dpone__lsn`, `__dpone__version` (= lsn), `__dpone__is_deleted` and
/// `__dpone__checkpoint`. A checkpoint inserts one row per staged key: its last event (highest
/// `__dpone__seq`), a delete as a tombstone (`__dpone__is_deleted = 1`). Readers query
///
///     SELECT ... FROM t FINAL WHERE __dpone__is_deleted = 0
///
/// (or `argMax(col, __dpone__version) ... GROUP BY key HAVING argMax(__dpone__is_deleted, __dpone__version) = 0`);
/// until merges run a plain `SELECT` sees every version, deleted ones included.
///
/// Exactly once with a monotonic source (PostgreSQL CDC: commit order, checkpoints between
/// transactions): the ledger records the highest lsn each checkpoint published (`applied_lsn`);
/// the next checkpoint, a replay included, applies only staged events above it (`W`). So every
/// event's version is above every published row's, and a replay after a crash anywhere inserts the
/// same rows again (same version, same values), which the engine collapses.
///
/// Unchanged TOAST columns (listed in `__dpone__unchanged`) of the last event are filled with the
/// value they had: from the latest earlier event of the key's lifetime in the checkpoint that
/// carries the column; else, when that lifetime began with a moved row (a key change), from the old
/// key (its latest carrier before the delete that moved it, else its published row); else from the
/// key's published row (latest version at or below `W`). A key change whose old key was itself
/// moved within the same checkpoint with the column unchanged (a chain) is refused before the
/// target changes (`chainCheck`).
public struct ClickHouseCDCApplySQL: Sendable {
    public var target: ClickHouseTableName
    public var staging: ClickHouseTableName
    public var key: [String]
    /// Business columns other than the key, in target order.
    public var values: [String]
    /// Of `values`: those the target stores as non-Nullable (a tombstone's missing values are
    /// stored as the type's default there).
    public var notNullValues: Set<String>
    /// The applied watermark: the highest lsn published before; nil when nothing was.
    public var applied: Int64?
    /// A TRUNCATE of the source in this checkpoint: only events staged from this sequence on apply.
    public var fromSequence: Int64?

    public init(
        target: ClickHouseTableName, staging: ClickHouseTableName, key: [String], values: [String],
        notNullValues: Set<String>, applied: Int64?
    ) {
        self.target = target
        self.staging = staging
        self.key = key
        self.values = values
        self.notNullValues = notNullValues
        self.applied = applied
    }

    static let delete = String(RowOperation.delete.rawValue)

    func q(_ name: String) -> String { ClickHouseSQL.quoteIdentifier(name) }
    var keys: String { ClickHouseSQL.list(key) }
    var lsn: String { q(TechnicalColumns.lsn) }
    /// Staged events not yet applied.
    var pending: String {
        let truncated = fromSequence.map { " AND \(q(TechnicalColumns.sequence)) >= \($0)" } ?? ""
        return (applied.map { "\(lsn) > \($0)" } ?? "1") + truncated
    }
    /// Published target rows (versions at or below the watermark).
    var published: String { applied.map { "\(q(TechnicalColumns.version)) <= \(max($0, 0))" } ?? "0" }

    /// Whether the JSON array text `u` lists `name` (elements are JSON strings, so `["name"` or
    /// `,"name"` can only match a whole element).
    static func listed(_ u: String, _ name: String) -> String {
        let encoded = String(decoding: (try? JSONEncoder().encode([name])) ?? Data(), as: UTF8.self)
        let needle = String(encoded.dropFirst().dropLast())
        return "(position(\(u), \(ClickHouseSQL.quoteLiteral("[" + needle))) > 0 OR position(\(u), \(ClickHouseSQL.quoteLiteral("," + needle))) > 0)"
    }

    /// Tuple positions of an event: 1 seq, 2 op, 3 unchanged text ('' when none), 4 lsn, 5... values.
    func at(_ event: String, _ position: Int) -> String { "tupleElement(\(event), \(position))" }
    func valueAt(_ event: String, _ i: Int) -> String { at(event, 5 + i) }

    /// Per key: its pending events in staging order (`__dpone__ev`).
    var events: String {
        let fields = [q(TechnicalColumns.sequence), "toInt8(\(q(TechnicalColumns.operation)))", "ifNull(\(q(TechnicalColumns.unchanged)), '')", lsn]
            + values.map(q)
        return "SELECT \(keys), arraySort(x -> tupleElement(x, 1), groupArray(tuple(\(fields.joined(separator: ", "))))) AS __dpone__ev FROM \(staging.sql) WHERE \(pending) GROUP BY \(keys)"
    }

    /// Per staged key: its published row (`__dpone__tr`: the values, then is_deleted) and
    /// `__dpone__tx = 1` (0 after a join that found none).
    var publishedRows: String {
        let fields = values.map(q) + ["toUInt8(\(q(TechnicalColumns.isDeleted)))"]
        return "SELECT \(keys), argMax(tuple(\(fields.joined(separator: ", "))), \(q(TechnicalColumns.version))) AS __dpone__tr, toUInt8(1) AS __dpone__tx FROM \(target.sql) WHERE \(published) AND (\(keys)) IN (SELECT \(keys) FROM \(staging.sql) WHERE \(pending)) GROUP BY \(keys)"
    }

    /// Where the lifetime (events since the last delete) of the event at `index` of `ev` begins:
    /// `reversed` is `arrayReverse(arraySlice(ev, 1, index - 1))`.
    func lifetimeStart(index: String, reversed: String) -> String {
        let d = "arrayFirstIndex(x -> tupleElement(x, 2) = \(Self.delete), \(reversed))"
        return "if(\(d) = 0, 1, \(index) - \(d) + 1)"
    }

    /// Index in `reversed` of the latest earlier event of the lifetime that carries `column`, or of
    /// the delete that ends the search (0: neither).
    func carrierOrDelete(_ column: String, reversed: String) -> String {
        "arrayFirstIndex(x -> tupleElement(x, 2) = \(Self.delete) OR NOT \(Self.listed("tupleElement(x, 3)", column)), \(reversed))"
    }

    /// Per key, its last event's values and where each listed column's value comes from:
    /// `__dpone__own<i>` (the event's, or an earlier carrier's), `__dpone__k<i>` (0 own, 1 the old
    /// key of the moved row that began the lifetime, 2 the published row), `__dpone__dseq` (the seq
    /// of that old key's delete, -2 when none).
    var lastEvents: String {
        let ev = "__dpone__ev"
        let n = "length(\(ev))"
        let e = "arrayElement(\(ev), -1)"
        let reversed = "arrayReverse(arrayPopBack(\(ev)))"
        let start = "arrayElement(\(ev), \(lifetimeStart(index: n, reversed: reversed)))"
        let moved = Self.listed(at(start, 3), TechnicalColumns.movedMarker)
        var columns = [keys, "\(at(e, 2)) AS __dpone__o", "\(at(e, 4)) AS __dpone__l", "if(\(moved), toInt64(\(at(start, 1))) - 1, toInt64(-2)) AS __dpone__dseq"]
        for (i, column) in values.enumerated() {
            let listed = Self.listed(at(e, 3), column)
            let j = carrierOrDelete(column, reversed: reversed)
            let carrier = "(\(j) > 0 AND \(at("arrayElement(\(reversed), \(j))", 2)) != \(Self.delete))"
            columns.append("if(NOT \(listed), \(valueAt(e, i)), \(valueAt("arrayElement(\(reversed), \(j))", i))) AS __dpone__own\(i)")
            columns.append("toUInt8(if(NOT \(listed) OR \(carrier), 0, if(\(moved), 1, 2))) AS __dpone__k\(i)")
        }
        return "SELECT \(columns.joined(separator: ", ")) FROM (\(events))"
    }

    /// Per staged delete (`__dpone__dseq` = its seq): each column's value just before it
    /// (`__dpone__dv<i>`), and `__dpone__dc<i>` = 1 when that value comes from a key moved earlier in
    /// the checkpoint (a chain, refused).
    var oldKeyValues: String {
        let ev = "__dpone__ev"
        let idx = "__dpone__idx"
        let reversed = "arrayReverse(arraySlice(\(ev), 1, \(idx) - 1))"
        let startIndex = lifetimeStart(index: idx, reversed: reversed)
        let startsMoved = "(\(startIndex) < \(idx) AND \(Self.listed(at("arrayElement(\(ev), \(startIndex))", 3), TechnicalColumns.movedMarker)))"
        var columns = ["toInt64(\(at("arrayElement(\(ev), \(idx))", 1))) AS __dpone__dseq"]
        for (i, column) in values.enumerated() {
            let j = carrierOrDelete(column, reversed: reversed)
            let carrier = "(\(j) > 0 AND \(at("arrayElement(\(reversed), \(j))", 2)) != \(Self.delete))"
            columns.append("if(\(carrier), \(valueAt("arrayElement(\(reversed), \(j))", i)), tupleElement(__dpone__tr, \(i + 1))) AS __dpone__dv\(i)")
            columns.append("toUInt8(NOT \(carrier) AND \(startsMoved)) AS __dpone__dc\(i)")
        }
        let deletes = "SELECT \(keys), \(ev), \(idx) FROM (\(events)) ARRAY JOIN arrayEnumerate(\(ev)) AS \(idx) WHERE \(at("arrayElement(\(ev), \(idx))", 2)) = \(Self.delete)"
        return "SELECT \(columns.joined(separator: ", ")) FROM (\(deletes)) AS __dpone__d ANY LEFT JOIN (\(publishedRows)) AS __dpone__p USING (\(keys))"
    }

    /// Last events joined with their key's published row.
    var withPublished: String {
        let own = values.indices.flatMap { ["__dpone__own\($0)", "__dpone__k\($0)"] }
        let columns = [keys, "__dpone__o", "__dpone__l", "__dpone__dseq"] + own + ["__dpone__tr", "__dpone__tx"]
        return "SELECT \(columns.joined(separator: ", ")) FROM (\(lastEvents)) AS __dpone__e ANY LEFT JOIN (\(publishedRows)) AS __dpone__p USING (\(keys))"
    }

    /// ... and with the old key's values of a moved row.
    var resolved: String {
        "SELECT * FROM (\(withPublished)) AS __dpone__w ANY LEFT JOIN (\(oldKeyValues)) AS __dpone__old USING (__dpone__dseq)"
    }

    /// Staged events of key changes (the fill may need the old key).
    public func movedCount() -> String {
        "SELECT count() FROM \(staging.sql) WHERE \(pending) AND position(ifNull(\(q(TechnicalColumns.unchanged)), ''), \(ClickHouseSQL.quoteLiteral(TechnicalColumns.movedMarker))) > 0"
    }

    /// Last events whose unchanged value would come through a chain of key changes (must be 0).
    public func chainCheck() -> String {
        let chained = values.indices.map { "(__dpone__k\($0) = 1 AND __dpone__dc\($0) = 1)" }
        return "SELECT count() FROM (\(resolved)) WHERE \(chained.isEmpty ? "0" : chained.joined(separator: " OR "))"
    }

    /// `(inserted, updated, deleted)`: new live keys, live keys changed, live keys deleted.
    public func counts() -> String {
        let live = "(__dpone__tx = 1 AND tupleElement(__dpone__tr, \(values.count + 1)) = 0)"
        let del = "__dpone__o = \(Self.delete)"
        return "SELECT countIf(NOT \(del) AND NOT \(live)), countIf(NOT \(del) AND \(live)), countIf(\(del) AND \(live)) FROM (\(withPublished))"
    }

    /// The highest pending lsn (0 when none): what this checkpoint applies up to.
    public func maxPending() -> String {
        "SELECT max(\(lsn)) FROM \(staging.sql) WHERE \(pending)"
    }

    /// Staged events at or below the applied watermark (a replay): `(their count, the highest staged lsn)`.
    public func stagedAtOrBelowApplied() -> String {
        "SELECT countIf(NOT (\(pending))), max(\(lsn)) FROM \(staging.sql)"
    }

    /// A snapshot checkpoint (`CheckpointContext.isComplete`, staging holds the whole source table):
    /// the live target keys staging lacks get a tombstone at `version` (the snapshot's lsn, above
    /// every published version), so a snapshot taken again leaves no row the source deleted in
    /// between. Returns the statement and the query counting those keys.
    public func snapshotPrune(version: Int64, checkpoint: UInt64) -> (count: String, insert: String) {
        let live =
            "FROM \(target.sql) FINAL WHERE \(q(TechnicalColumns.isDeleted)) = 0 AND \(q(TechnicalColumns.version)) < \(version) AND (\(keys)) NOT IN (SELECT \(keys) FROM \(staging.sql))"
        let columns =
            key + values
            + [TechnicalColumns.lsn, TechnicalColumns.version, TechnicalColumns.isDeleted, TechnicalColumns.checkpoint]
        let select = (key + values).map(q) + ["toInt64(\(version))", "toUInt64(\(version))", "toUInt8(1)", String(checkpoint)]
        return (
            "SELECT count() \(live)",
            "INSERT INTO \(target.sql) (\(ClickHouseSQL.list(columns))) SELECT \(select.joined(separator: ", ")) \(live)"
        )
    }

    /// The insert of one row per staged key, tagged with `checkpoint`.
    public func insert(checkpoint: UInt64) -> String {
        var select = [keys]
        for (i, column) in values.enumerated() {
            let value = "multiIf(__dpone__k\(i) = 0, __dpone__own\(i), __dpone__k\(i) = 1, __dpone__dv\(i), tupleElement(__dpone__tr, \(i + 1)))"
            select.append(notNullValues.contains(column) ? "assumeNotNull(\(value))" : value)
        }
        select += [
            "__dpone__l", "toUInt64(__dpone__l)", "toUInt8(__dpone__o = \(Self.delete))", String(checkpoint),
        ]
        let columns =
            key + values
            + [TechnicalColumns.lsn, TechnicalColumns.version, TechnicalColumns.isDeleted, TechnicalColumns.checkpoint]
        return "INSERT INTO \(target.sql) (\(ClickHouseSQL.list(columns))) SELECT \(select.joined(separator: ", ")) FROM (\(resolved))"
    }
}
