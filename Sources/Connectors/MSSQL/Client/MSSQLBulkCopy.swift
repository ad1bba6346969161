import Flow
import ODBCConnector

#if canImport(Glibc)
import Glibc
#endif

/// The bulk-copy interface a SQL Server ODBC driver offers, found in its library.
public enum MSSQLBulkCopyAPI: Sendable, Equatable {
    /// Microsoft's ODBC Driver 17/18: the driver library exports the bcp functions themselves
    /// (`bcp_initW`, `bcp_bind`, `bcp_sendrow`, `bcp_batch`, `bcp_done`).
    case driverFunctions(library: String)
    /// FreeTDS: the same calls made through `SQLSetConnectAttr` with its
    /// `SQL_COPT_TDSODBC_IMPL_BCP_*` attributes (odbcss.h) on a connected handle.
    case connectionAttributes(library: String)

    /// The functions Microsoft's driver must export for the bulk path.
    public static let functions = ["bcp_initW", "bcp_bind", "bcp_sendrow", "bcp_batch", "bcp_done"]

    /// FreeTDS's attribute codes (`SQL_COPT_TDSODBC_IMPL_BASE` = 1500).
    public enum FreeTDSAttribute: Int32, Sendable, CaseIterable {
        case initA = 1500, colptr = 1502, sendrow = 1503, batch = 1504, done = 1505, bind = 1506, initW = 1507, control = 1508
    }

    /// The bulk-copy interface of the driver `connectionString` names (resolved as the driver
    /// manager does: a `Driver=` path, an odbcinst.ini section, a DSN), or nil when it offers none
    /// (the array-bound INSERT fallback is used then). Loads the driver library, connects to nothing.
    public static func probe(_ connectionString: String) -> MSSQLBulkCopyAPI? {
        guard let library = ODBCConnection.driverLibrary(connectionString) else { return nil }
        return probe(library: library)
    }

    public static func probe(library: String) -> MSSQLBulkCopyAPI? {
        guard let handle = dlopen(library, RTLD_LAZY | RTLD_LOCAL) else { return nil }
        defer { dlclose(handle) }
        if functions.allSatisfy({ dlsym(handle, $0) != nil }) { return .driverFunctions(library: library) }
        // FreeTDS's library: its own SQLSetConnectAttr carries the bcp calls.
        let file = library.split(separator: "/").last.map(String.init) ?? library
        if file.contains("tdsodbc"), dlsym(handle, "SQLSetConnectAttr") != nil { return .connectionAttributes(library: library) }
        return nil
    }
}
