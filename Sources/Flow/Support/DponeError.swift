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
        // The retry and consequence markers are for the engine, not for the reader.
        let shown = context.filter { $0.key != Self.permanentKey && $0.key != Self.consequenceKey && $0.key != Self.unavailableKey }
        if !shown.isEmpty {
            text += " (" + shown.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                + ")"
        }
        if let hint { text += "\nhint: \(hint)" }
        return text
    }

    /// 2 for an invalid manifest or usage, 1 for a failed run.
    public var exitCode: Int32 { kind == .manifest || kind == .usage ? 2 : 1 }
}

extension DponeError {
    /// The context key marking a failure no retry can get past (a refusal of the data or of the
    /// state), though its kind says source, sink or state.
    public static let permanentKey = "permanent"

    /// The context key marking a failure that only follows from another one (a checkpoint refused
    /// after the run failed, a channel whose other end is gone): never the error a run reports
    /// when the cause is known.
    public static let consequenceKey = "consequence"

    /// The context key marking a failure to reach a service the data depends on (a schema
    /// registry away or answering 5xx): not a fault of the message being read, so a source never
    /// quarantines or refuses a message for it; it stays transient.
    public static let unavailableKey = "unavailable"

    /// Whether trying again later, with nothing changed, may succeed: a lost or refused connection,
    /// a server restarting, a broker or registry away. Source, sink, state and I/O failures are,
    /// unless marked permanent (`permanentKey`); manifest, usage, schema, cast and checkpoint
    /// refusals never are.
    public var isTransient: Bool {
        switch kind {
        case .source, .sink, .state, .io: context[Self.permanentKey] != "true"
        default: false
        }
    }
}

/// A connector's own error that can tell whether trying again later, with nothing changed, may
/// succeed (a lost connection, a server restarting). `dpone stream` retries those; a `DponeError`
/// answers through `isTransient`, and any other error is taken as permanent.
public protocol TransientClassifying: Error {
    var isTransient: Bool { get }
}

extension DponeError: TransientClassifying {}

/// Whether `error` may pass when tried again unchanged.
public func isTransientFailure(_ error: any Error) -> Bool {
    (error as? any TransientClassifying)?.isTransient ?? false
}
