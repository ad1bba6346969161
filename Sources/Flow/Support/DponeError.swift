/// The error every dpone layer throws: a kind, a message a user can act on, optional hint and context.
///
/// Messages never contain credentials: connectors mask URLs before building an error.
public struct DponeError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The manifest is invalid (exit code 2).
        case manifest
        /// The command line is invalid (exit code 2).
        case usage
        case source
        case sink
        case state
        case schema
        case cast
        case io
        case checkpoint
        case cancelled
        case `internal`
    }

    public var kind: Kind
    public var message: String
    public var hint: String?
    /// Where it happened: pipeline, table, column, checkpoint, file...
    public var context: [String: String]

    public init(_ kind: Kind, _ message: String, hint: String? = nil, context: [String: String] = [:]) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.context = context
    }

    public var description: String {
        var text = message
        if !context.isEmpty {
            text += " (" + context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                + ")"
        }
        if let hint { text += "\nhint: \(hint)" }
        return text
    }

    /// 2 for an invalid manifest or usage, 1 for a failed run.
    public var exitCode: Int32 { kind == .manifest || kind == .usage ? 2 : 1 }
}
