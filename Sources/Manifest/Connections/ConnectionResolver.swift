/// Resolves `connection_ref: ID` from the environment.
///
/// Looks for `DPONE_CONN_<ID>_URL` first (ID uppercased, `-` and `.` → `_`), then for parts
/// `_HOST` (required), `_PORT`, `_DATABASE`, `_USERNAME`, `_PASSWORD`.
public struct ConnectionResolver: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// Why a reference did not resolve; `message`/`hint` name the variables looked for, never a value.
    public struct Failure: Error, Sendable, Equatable {
        public var message: String
        public var hint: String?
    }

    /// The environment-variable prefix for `id`: `DPONE_CONN_PG_APP` for `pg-app`.
    public static func variablePrefix(for id: String) -> String {
        "DPONE_CONN_" + String(id.uppercased().map { $0 == "-" || $0 == "." ? "_" : $0 })
    }

    /// The resolved connection; `scheme` is used when assembling a URL from parts.
    public func resolve(_ id: String, scheme: String) -> Result<ResolvedConnection, Failure> {
        let prefix = Self.variablePrefix(for: id)
        func value(_ suffix: String) -> String? {
            guard let v = environment[prefix + suffix], !v.isEmpty else { return nil }
            return v
        }
        if let url = value("_URL") { return .success(ResolvedConnection(url: url)) }
        guard let host = value("_HOST") else {
            return .failure(
                Failure(
                    message: "unresolved connection_ref '\(id)': neither \(prefix)_URL nor \(prefix)_HOST is set",
                    hint: "set \(prefix)_URL, or \(prefix)_HOST with \(prefix)_PORT, \(prefix)_DATABASE, "
                        + "\(prefix)_USERNAME, \(prefix)_PASSWORD"))
        }
        var port: Int?
        if let text = value("_PORT") {
            guard let p = Int(text), (1...65535).contains(p) else {
                return .failure(Failure(message: "\(prefix)_PORT is not a port number: '\(text)'", hint: nil))
            }
            port = p
        }
        return .success(
            ResolvedConnection(
                scheme: scheme, host: host, port: port, database: value("_DATABASE"), username: value("_USERNAME"),
                password: value("_PASSWORD")))
    }
}
