/// A database table: `table: {schema: public, name: orders}` (schema optional).
public struct TableRef: Sendable, Hashable, Codable {
    public var schema: String?
    public var name: String

    public init(schema: String? = nil, name: String) {
        self.schema = schema
        self.name = name
    }

    /// `schema.name`, or `name` without a schema.
    public var qualifiedName: String { schema.map { "\($0).\(name)" } ?? name }
}
