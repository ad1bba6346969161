import ConnectorKit
import Flow
import Manifest

/// `dpone doctor` for ODBC endpoints: the driver loads and the database answers (its DBMS name and
/// the driver's).
public enum ODBCDoctor {
    /// Connects with `connectionString` (on the connection's own thread) and reports the DBMS.
    public static func probe(connectionString: String, name: String) async -> DoctorProbe {
        do {
            let connection = try await ODBCConnection.connect(connectionString)
            let dbms = await connection.dbmsName
            let driver = await connection.driverName
            await connection.close()
            return DoctorProbe(name: name, outcome: .ok, detail: "\(dbms) through \(driver) (\(ODBCConnectionString.redacted(connectionString)))")
        } catch {
            return DoctorProbe(
                name: name, outcome: .failed, detail: "\(error)",
                fix: "check the driver is registered (odbcinst -q -d) and the connection string: Driver=...;Server=...;...")
        }
    }
}

extension ODBCDescriptor {
    public func doctor(_ document: ManifestDocument) async -> [DoctorProbe] {
        guard document.source.type == type, let connection = document.source.connection else { return [] }
        return [await ODBCDoctor.probe(connectionString: connection.resolved.url, name: "odbc source")]
    }
}
