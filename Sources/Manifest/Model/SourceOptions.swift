import Flow

/// `source.options`. Common keys are typed; `file` is set exactly when the source type is `files`.
public struct SourceOptions: Sendable, Hashable, Codable {
    /// `incremental_column`: the cursor column of an incremental read.
    public var incrementalColumn: String?
    /// `batch_rows`: rows per batch the source emits (positive).
    public var batchRows: Int?
    /// `schema`: a declared schema (`[{name, type, nullable}]`); nullable defaults to true.
    public var schema: Schema?
    /// `columns`: an allowlist of columns to read, in order.
    public var columns: [String]?
    /// `custom_predicate`: an extra row filter pushed to the source.
    public var customPredicate: String?
    /// File layout; non-nil iff the source type is `files`.
    public var file: FileOptions?
    /// Connector-specific keys not modelled here (non-files types only), env-resolved.
    public var extra: [String: ManifestValue]

    public init(
        incrementalColumn: String? = nil, batchRows: Int? = nil, schema: Schema? = nil, columns: [String]? = nil,
        customPredicate: String? = nil, file: FileOptions? = nil, extra: [String: ManifestValue] = [:]
    ) {
        self.incrementalColumn = incrementalColumn
        self.batchRows = batchRows
        self.schema = schema
        self.columns = columns
        self.customPredicate = customPredicate
        self.file = file
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey {
        case incrementalColumn = "incremental_column"
        case batchRows = "batch_rows"
        case schema, columns
        case customPredicate = "custom_predicate"
        case file, extra
    }
}
