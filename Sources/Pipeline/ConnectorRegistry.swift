import BigQueryConnector
import ClickHouseConnector
import ConnectorKit
import FilesConnector
import Flow
import Foundation
import KafkaConnector
import Manifest
import MSSQLConnector
import ODBCConnector
import PostgresConnector
import RESTConnector

/// The connectors of this build: the one file that names them. Adding a system is a folder under
/// `Sources/Connectors/` with a `ConnectorDescriptor`, and one line here.
public enum ConnectorRegistry {
    /// In the order manifests list them ("expected one of: files, postgres, ...").
    public static let all: [any ConnectorDescriptor] = [
        FilesDescriptor(), PostgresDescriptor(), ClickHouseDescriptor(), KafkaDescriptor(),
        MSSQLDescriptor(),
        RESTDescriptor(), ODBCDescriptor(), BigQueryDescriptor(),
    ]

    /// The connector serving `type` as a `role` ("source", "sink"); a clear refusal for a type this
    /// build does not have.
    public static func descriptor(for type: EndpointType, role: String) throws -> any ConnectorDescriptor {
        if let descriptor = all.first(where: { $0.type == type }) { return descriptor }
        throw DponeError(.usage, "\(role) type '\(type.rawValue)' is not available in this build yet", hint: builtHint)
    }

    /// "this build has connectors for files, postgres, clickhouse, kafka".
    static var builtHint: String {
        "this build has connectors for " + all.map(\.type.rawValue).joined(separator: ", ")
    }

    /// The connector keeping state stores of `type`, nil when none does.
    static func stateStoreConnector(for type: StateType) -> (any ConnectorDescriptor)? {
        all.first { $0.stateType == type }
    }
}

extension ManifestLoader {
    /// Loads the manifest at `path` with this build's connectors.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ManifestErrors) -> ManifestDocument {
        try load(path: path, environment: environment, connectors: ConnectorRegistry.all)
    }

    /// Parses manifest text with this build's connectors; `path` only locates errors.
    public static func parse(
        yaml: String, path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ManifestErrors) -> ManifestDocument {
        try parse(yaml: yaml, path: path, environment: environment, connectors: ConnectorRegistry.all)
    }
}
