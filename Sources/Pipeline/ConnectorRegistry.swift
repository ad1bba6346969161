import ClickHouseConnector
import ConnectorKit
import FilesConnector
import Flow
import KafkaConnector
import Manifest
import PostgresConnector

/// The connectors of this build: the one file that names them. Adding a system is a folder under
/// `Sources/Connectors/` with a `ConnectorDescriptor`, and one line here.
public enum ConnectorRegistry {
    public static let all: [any ConnectorDescriptor] = [
        FilesDescriptor(), PostgresDescriptor(), ClickHouseDescriptor(), KafkaDescriptor(),
    ]

    /// The connector serving `type` as a `role` ("source", "sink"); a clear refusal for a type this
    /// build does not have.
    public static func descriptor(for type: EndpointType, role: String) throws -> any ConnectorDescriptor {
        if let descriptor = all.first(where: { $0.type == type }) { return descriptor }
        throw DponeError(
            .usage, "\(role) type '\(type.rawValue)' is not available in this build yet",
            hint: "this build has connectors for " + all.map(\.type.rawValue).joined(separator: ", "))
    }

    /// The connector keeping state stores of `type`, nil when none does.
    static func stateStoreConnector(for type: StateType) -> (any ConnectorDescriptor)? {
        all.first { $0.stateType == type }
    }
}
