import Flow

/// The transaction window of one `incremental_strategy: xmin` run.
///
/// Bounds are 64-bit, epoch-aware transaction ids (`xid8`: epoch << 32 | xid):
/// - `upper` = `pg_snapshot_xmin(pg_current_snapshot())` read in the run's REPEATABLE READ snapshot:
///   every transaction below it had ended when the snapshot was taken, so every committed row
///   version with such an xmin is visible in it.
/// - `lower` = the `upper` of the previous durable checkpoint; absent on a first run.
/// - The run reads rows whose xmin lies in `[lower, upper)`; a first run reads every row. The
///   next run starts at this `upper`, so windows tile the xid line: a transaction still open (or
///   not yet started) at the snapshot has an xid `>= upper` and its rows fall in a later window.
///   Rows visible now with xmin `>= upper` (committed after the oldest open transaction began) are
///   read by the next run too: a harmless re-read under `incremental_merge`.
///
/// The row's `xmin` is a 32-bit xid, so the window is compared on 32-bit parts:
/// - same epoch: `x >= lower32 AND x < upper32`;
/// - `lower` and `upper` in consecutive epochs, less than 2^32 apart: `x >= lower32 OR (x >= 3 AND
///   x < upper32)` (xids 0, 1, 2 are special: invalid, bootstrap, frozen; no row is written with
///   them in a window);
/// - 2^32 or more apart, or a stored lower above `upper` (state from another cluster or a
///   restored backup): no xmin filter, a full read (logged).
/// A row frozen by VACUUM keeps its raw xmin (PostgreSQL ≥ 9.4; older servers showed 2), which is
/// older than every later window. After a wraparound an old row whose 32-bit xmin happens to fall
/// in a window is read again: a duplicate, never a loss.
struct PostgresXminWindow: Sendable, Equatable {
    enum Filter: Sendable, Equatable {
        /// Read every row; `reason` is logged when set.
        case all(reason: String?)
        case sameEpoch(lower: UInt32, upper: UInt32)
        case wrapped(lower: UInt32, upper: UInt32)
    }

    static let xidSpan: UInt64 = 1 << 32
    static let firstNormalXid: UInt32 = 3

    let lower: UInt64?
    let upper: UInt64

    init(lower: UInt64?, upper: UInt64) {
        self.lower = lower
        self.upper = upper
    }

    var filter: Filter {
        guard let lower else { return .all(reason: nil) }
        guard lower <= upper else {
            return .all(reason: "the stored xmin bound \(lower) is above the server's \(upper) (another cluster or a restored backup?): reading the whole table")
        }
        guard upper - lower < Self.xidSpan else {
            return .all(reason: "the stored xmin bound \(lower) is 2^32 or more transactions behind \(upper): reading the whole table")
        }
        let lo = UInt32(truncatingIfNeeded: lower)
        let hi = UInt32(truncatingIfNeeded: upper)
        return lower >> 32 == upper >> 32 ? .sameEpoch(lower: lo, upper: hi) : .wrapped(lower: lo, upper: hi)
    }

    /// The SQL condition on the table's `xmin`, nil for a full read.
    var predicate: String? {
        let x = "xmin::text::bigint"
        switch filter {
        case .all: return nil
        case .sameEpoch(let lo, let hi): return "\(x) >= \(lo) AND \(x) < \(hi)"
        case .wrapped(let lo, let hi): return "\(x) >= \(lo) OR (\(x) >= \(Self.firstNormalXid) AND \(x) < \(hi))"
        }
    }

    /// `{"xmin": {"upper": "<decimal xid8>"}}`: the next run's lower bound.
    var positions: StateValue {
        .object(["xmin": .object(["upper": .string(String(upper))])])
    }

    /// The stored lower bound in `resumeFrom` (nil when there is none).
    /// - Throws: `DponeError(.state)` when it is not a decimal 64-bit xid.
    static func storedLower(_ resumeFrom: StateValue?, table: String) throws -> UInt64? {
        guard let state = resumeFrom?["xmin"] else { return nil }
        switch state["upper"] {
        case .none, .null?: return nil
        case .string(let text)?:
            if let value = UInt64(text) { return value }
        case .int(let value)? where value >= 0:
            return UInt64(value)
        default: break
        }
        throw DponeError(
            .state, "the stored xmin bound \(state) is not a decimal transaction id",
            hint: "reset the pipeline's state to read the table again from scratch", context: ["table": table])
    }
}
