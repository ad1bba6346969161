import DponeTestSupport
import Flow
import Foundation
import ODBCConnector
import Testing

@testable import MSSQLConnector

/// The SQL Server drivers themselves, with no server: Microsoft's ODBC Driver 18 (from PyPI) and
/// FreeTDS (Debian) load, their bulk-copy entry points resolve, and a closed port fails cleanly
/// (SQLSTATE 08001, a readable message, the password masked).
@Suite(.tags(.integrationMSSQL), IntegrationGate.integration.trait)
struct MSSQLDriverTests {
    static func requireDrivers() throws {
        let dir = ProcessInfo.processInfo.environment["ODBCSYSINI"] ?? ""
        try #require(!dir.isEmpty && FileManager.default.fileExists(atPath: dir + "/odbcinst.ini"), "export ODBCSYSINI=$(scripts/odbc.sh)")
    }

    static let secret = "S3cr3t;with}}brace"

    /// Connection strings to a port nothing listens on.
    static let closed: [String: String] = [
        "ODBC Driver 18 for SQL Server":
            "Driver={ODBC Driver 18 for SQL Server};Server=tcp:127.0.0.1,1;UID=sa;PWD={\(secret)};Encrypt=no",
        "FreeTDS": "Driver={FreeTDS};Server=127.0.0.1;Port=1;UID=sa;PWD={\(secret)};TDS_Version=7.4",
    ]

    @Test func microsoftsDriverExportsTheBulkCopyFunctions() throws {
        try Self.requireDrivers()
        let api = try #require(MSSQLBulkCopyAPI.probe("Driver={ODBC Driver 18 for SQL Server};Server=x"))
        guard case .driverFunctions(let library) = api else {
            Issue.record("expected the bcp functions in the driver, found \(api)")
            return
        }
        #expect(library.contains("libmsodbcsql-18"))
    }

    @Test func freeTDSCarriesBulkCopyThroughConnectionAttributes() throws {
        try Self.requireDrivers()
        let api = try #require(MSSQLBulkCopyAPI.probe("Driver={FreeTDS};Server=x"))
        guard case .connectionAttributes(let library) = api else {
            Issue.record("expected FreeTDS's attribute interface, found \(api)")
            return
        }
        #expect(library.hasSuffix("libtdsodbc.so"))
        #expect(MSSQLBulkCopyAPI.probe("Driver={PostgreSQL Unicode};Server=x") == nil, "psqlODBC has no bulk-copy interface")
    }

    @Test(arguments: ["ODBC Driver 18 for SQL Server", "FreeTDS"])
    func aClosedPortFailsWith08001AndTheMaskedPassword(_ driver: String) async throws {
        try Self.requireDrivers()
        let text = try #require(Self.closed[driver])
        do {
            let connection = try await ODBCConnection.connect(text, loginTimeout: 5)
            await connection.close()
            Issue.record("\(driver) connected to a closed port")
        } catch let error as ODBCError {
            #expect(error.sqlState == "08001", "\(driver): \(error.description)")
            #expect(!error.description.contains("S3cr3t") && !error.description.contains("brace"), "\(error.description)")
            #expect(error.description.contains("PWD=***"), "the connection named, redacted: \(error.description)")
            let dpone = error.dponeError(.sink)
            #expect(dpone.hint?.contains("did not answer") == true)
            #expect(!"\(dpone)".contains("S3cr3t"))
        }
    }
}
