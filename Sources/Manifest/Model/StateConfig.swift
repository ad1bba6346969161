/// Where checkpoints are stored (`state.type`).
public enum StateType: String, Sendable, Hashable, Codable, CaseIterable {
    case file
    case postgres
    /// A table in a BigQuery dataset (`state.table`, default `<sink dataset>.__dpone__state`).
    case bigquery
    case disabled
}

/// When the state is written relative to the sink's publication (`state.atomicity`).
public enum StateAtomicity: String, Sendable, Hashable, Codable, CaseIterable {
    /// In the state store, after every sink published (default).
    case afterTarget = "after_target"
    /// In the sink's own finalize transaction (Postgres sink with a Postgres state store on the same
    /// database): a crash can never publish data without its state or state without its data.
    case targetAtomic = "target_atomic"
}

/// `state`; absent means a file store under `.dpone/state`.
public struct StateConfig: Sendable, Hashable, Codable {
    /// The directory a file store uses when `dir` is not given.
    public static let defaultDirectory = ".dpone/state"

    public var type: StateType
    /// `dir` (file store): resolved to `defaultDirectory` when absent; nil for other types.
    public var directory: String?
    /// The postgres store's connection (required for postgres).
    public var connection: ConnectionConfig?
    /// The postgres store's table (optional).
    public var table: TableRef?
    /// `atomicity`; default `after_target`.
    public var atomicity: StateAtomicity = .afterTarget

    public init(
        type: StateType = .file, directory: String? = StateConfig.defaultDirectory,
        connection: ConnectionConfig? = nil, table: TableRef? = nil
    ) {
        self.type = type
        self.directory = directory
        self.connection = connection
        self.table = table
    }

    enum CodingKeys: String, CodingKey {
        case type
        case directory = "dir"
        case connection, table, atomicity
    }
}
