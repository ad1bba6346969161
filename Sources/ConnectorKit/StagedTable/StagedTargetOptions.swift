import Flow

/// What every staged-table sink is told about its target, whatever the system: where it is, how it
/// publishes, the key, the attempt's name, and how the target may follow the source's shape.
/// Each sink's options embed it and read its fields as their own (`@dynamicMemberLookup`).
public struct StagedTargetOptions: Sendable {
    /// The server (credentials in it never reach logs or errors).
    public var url: String
    public var mode: LoadStrategy
    public var uniqueKey: [String]
    /// Names the attempt-local tables (`__dpone__stg_<load id>_<table>`); random when nil.
    public var loadID: String?
    /// `schema_evolution.widen: auto` (default): a column the source widened safely is widened in
    /// the target; false: that fails before any write.
    public var widen = true
    /// `schema_evolution.drop: keep` (default): a column the source no longer has stays in the
    /// target, nullable, NULL from then on; false (`fail`) refuses it before any write.
    public var keepDropped = true

    public init(url: String, mode: LoadStrategy, uniqueKey: [String] = [], loadID: String? = nil) {
        self.url = url
        self.mode = mode
        self.uniqueKey = uniqueKey
        self.loadID = loadID
    }
}
