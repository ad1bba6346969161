/// Names of the columns dpone adds to loaded rows. Every name starts with `prefix`.
public enum DponeColumns {
    public static let prefix = "__dpone__"
    /// The load's ULID (string, same for every row of a load).
    public static let loadID = "__dpone__load_id"
    /// When the load started (timestamptz, µs).
    public static let loadedAt = "__dpone__loaded_at"
    /// SHA-256 of the row's business columns (string, 64 lowercase hex digits); see `RowHash`.
    public static let rowHash = "__dpone__row_hash"

    /// Whether `name` is a dpone column rather than a business column.
    public static func isReserved(_ name: String) -> Bool { name.hasPrefix(prefix) }
}
