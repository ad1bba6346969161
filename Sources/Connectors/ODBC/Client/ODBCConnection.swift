import CODBC
import Flow
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

let odbcLogger = Logger(label: "dpone.odbc")

/// How text crosses the ODBC API.
public enum ODBCTextEncoding: String, Sendable, CaseIterable {
    /// UTF-16 (`SQLWCHAR`, the `W` functions) when the driver has them, else UTF-8.
    case automatic
    /// Always UTF-16.
    case utf16
    /// Always UTF-8 bytes (`SQL_C_CHAR`): for a driver whose narrow text is UTF-8, it saves the
    /// driver's conversion to UTF-16 and back.
    case utf8
}

/// One ODBC connection (unixODBC driver manager, any driver) on its own thread.
///
/// An actor whose executor is a `DedicatedThread`: every ODBC call runs there, in order, never on
/// Swift's cooperative pool, and the handles are isolated by the language. Text crosses the API as
/// UTF-16 (`SQLWCHAR`, the `W` functions). Errors are `ODBCError`s carrying the diagnostic chain
/// (SQLSTATE, native error, messages); a connection string appears in them only redacted.
public actor ODBCConnection {
    private let thread: DedicatedThread
    private var environment: SQLHENV?
    private var connection: SQLHDBC?
    /// `SQLGetInfo(SQL_DBMS_NAME)`: "PostgreSQL", "SQLite", "Microsoft SQL Server"...
    public private(set) var dbmsName = ""
    /// `SQLGetInfo(SQL_IDENTIFIER_QUOTE_CHAR)`: `"`, or `[`-style dialects report `"` too.
    public private(set) var identifierQuote = "\""
    /// Whether the driver has the wide-character (`W`) entry points. Without them the driver
    /// manager would narrow UTF-16 to bytes, so text then crosses as UTF-8 (`SQL_C_CHAR`, the `A`
    /// functions), which such drivers (SQLite ODBC) store and return as it is.
    public private(set) var unicode = true
    /// `SQLGetInfo(SQL_DRIVER_NAME)`: the driver library's file name.
    public private(set) var driverName = ""

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    private init(thread: DedicatedThread) { self.thread = thread }

    /// Connects with a DSN-less connection string (`Driver=...;Server=...;UID=...;PWD=...`) or a
    /// `DSN=...` one. `loginTimeout` bounds the connect (seconds).
    public static func connect(
        _ connectionString: String, loginTimeout: Int = 10, text: ODBCTextEncoding = .automatic
    ) async throws -> ODBCConnection {
        let connection = ODBCConnection(thread: DedicatedThread(name: "dpone-odbc"))
        do {
            try await connection.open(connectionString, loginTimeout: loginTimeout, text: text)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Runs on the connection's thread: a connection dropped without `close()` is closed there.
    isolated deinit {
        close()
        thread.stop()
    }

    private func open(_ connectionString: String, loginTimeout: Int, text encoding: ODBCTextEncoding) throws {
        var env: SQLHANDLE?
        guard succeeded(SQLAllocHandle(SQLSMALLINT(SQL_HANDLE_ENV), nil, &env)), let env else {
            throw ODBCError(operation: "allocating an ODBC environment", diagnostics: [])
        }
        environment = env
        try check(
            SQLSetEnvAttr(env, SQLINTEGER(SQL_ATTR_ODBC_VERSION), SQLPOINTER(bitPattern: UInt(SQL_OV_ODBC3)), 0),
            SQLSMALLINT(SQL_HANDLE_ENV), env, "selecting ODBC 3")
        var dbc: SQLHANDLE?
        try check(SQLAllocHandle(SQLSMALLINT(SQL_HANDLE_DBC), env, &dbc), SQLSMALLINT(SQL_HANDLE_ENV), env, "allocating a connection")
        connection = dbc
        SQLSetConnectAttr(dbc, SQLINTEGER(SQL_ATTR_LOGIN_TIMEOUT), SQLPOINTER(bitPattern: UInt(loginTimeout)), 0)
        var text = ODBCText.wide(connectionString)
        var out = [SQLWCHAR](repeating: 0, count: 1_024)
        var outLength: SQLSMALLINT = 0
        let rc = SQLDriverConnectW(dbc, nil, &text, SQLSMALLINT(SQL_NTS), &out, SQLSMALLINT(out.count), &outLength, SQLUSMALLINT(SQL_DRIVER_NOPROMPT))
        // The string held the password: overwrite our copy before anything else can keep it.
        for i in text.indices { text[i] = 0 }
        try check(rc, SQLSMALLINT(SQL_HANDLE_DBC), dbc, "connecting to \(ODBCConnectionString.redacted(connectionString))")
        dbmsName = info(SQLUSMALLINT(SQL_DBMS_NAME))
        driverName = info(SQLUSMALLINT(SQL_DRIVER_NAME))
        switch encoding {
        case .automatic:
            let library = Self.driverLibrary(connectionString) ?? Self.loadedLibrary(named: driverName)
            unicode = library.map(Self.hasWideEntryPoints(library:)) ?? true
        case .utf16: unicode = true
        case .utf8: unicode = false
        }
        let quote = info(SQLUSMALLINT(SQL_IDENTIFIER_QUOTE_CHAR)).trimmingCharacters(in: .whitespaces)
        identifierQuote = quote.isEmpty ? "\"" : quote
        odbcLogger.debug("connected to \(dbmsName) via \(ODBCConnectionString.redacted(connectionString))")
    }

    private func info(_ kind: SQLUSMALLINT) -> String {
        guard let connection else { return "" }
        var buffer = [SQLWCHAR](repeating: 0, count: 256)
        var length: SQLSMALLINT = 0
        guard succeeded(SQLGetInfoW(connection, kind, &buffer, SQLSMALLINT(buffer.count * 2), &length)) else { return "" }
        return ODBCText.string(buffer)
    }

    /// Whether the loaded driver library at `library` exports `SQLExecDirectW` itself; true when
    /// it cannot be told (the common case: Unicode drivers).
    static func hasWideEntryPoints(library: String) -> Bool {
        guard let handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD) else { return true }
        defer { dlclose(handle) }
        // dlsym also searches the library's dependencies: the symbol counts only when it is not the
        // driver manager's own SQLExecDirectW (RTLD_DEFAULT finds libodbc's first).
        guard let symbol = dlsym(handle, "SQLExecDirectW") else { return false }
        return symbol != dlsym(UnsafeMutableRawPointer(bitPattern: 0), "SQLExecDirectW")
    }

    /// The driver library a connection string names, as the driver manager resolves it: a
    /// `Driver=` path, a `Driver={name}` section of odbcinst.ini, or a `DSN=`'s driver in odbc.ini.
    public static func driverLibrary(_ connectionString: String) -> String? {
        let attributes = ODBCConnectionString.attributes(connectionString)
        func value(_ key: String) -> String? { attributes.first { $0.key.lowercased() == key }?.value }
        func profile(_ section: String, _ entry: String, _ file: String) -> String? {
            var buffer = [CChar](repeating: 0, count: 1_024)
            let n = SQLGetPrivateProfileString(section, entry, "", &buffer, Int32(buffer.count), file)
            return n > 0 ? String(cString: buffer) : nil
        }
        var driver = value("driver")
        if driver == nil, let dsn = value("dsn") { driver = profile(dsn, "Driver", "odbc.ini") }
        guard let driver, !driver.isEmpty else { return nil }
        if driver.contains("/") { return driver }
        return profile(driver, "Driver", "odbcinst.ini")
    }

    /// The path of the loaded library the driver calls `name`, from the process's memory map:
    /// drivers report a short name (`sqlite3odbc.so` for `libsqlite3odbc-0.9998.so`), so the
    /// file name must contain the name without its `.so`.
    static func loadedLibrary(named name: String) -> String? {
        // Read to the end: procfs reports a size of 0, and String(contentsOfFile:) stops after one
        // page (4 KB), which a process with many threads (a mapping per stack) passes long before
        // the driver's line (seen: a test that failed only when run beside others).
        let fd = Glibc.open("/proc/self/maps", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        let maps = String(decoding: bytes, as: UTF8.self)
        let stem = name.hasSuffix(".so") ? String(name.dropLast(3)) : name
        for line in maps.split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = String(line[slash...])
            guard let file = path.split(separator: "/").last, file.contains(".so") else { continue }
            if file.contains(stem) { return path }
        }
        return nil
    }

    /// Runs `SQLExecDirect(W)` for `sql` in the driver's text encoding.
    func execDirect(_ statement: SQLHSTMT, _ sql: String) -> SQLRETURN {
        if unicode {
            var text = ODBCText.wide(sql)
            return SQLExecDirectW(statement, &text, SQLINTEGER(SQL_NTS))
        }
        var bytes = Array(sql.utf8) + [0]
        return SQLExecDirect(statement, &bytes, SQLINTEGER(SQL_NTS))
    }

    /// Ends the session and the thread. Idempotent.
    public func close() {
        if let connection {
            SQLDisconnect(connection)
            SQLFreeHandle(SQLSMALLINT(SQL_HANDLE_DBC), connection)
            self.connection = nil
        }
        if let environment {
            SQLFreeHandle(SQLSMALLINT(SQL_HANDLE_ENV), environment)
            self.environment = nil
        }
    }

    /// `identifier` quoted for this DBMS (`"a""b"`; `[a]]b]` for SQL Server).
    public func quote(_ identifier: String) -> String {
        if identifierQuote == "[" || dbmsName == "Microsoft SQL Server" {
            return "[" + identifier.replacingOccurrences(of: "]", with: "]]") + "]"
        }
        return identifierQuote + identifier.replacingOccurrences(of: identifierQuote, with: identifierQuote + identifierQuote)
            + identifierQuote
    }

    // MARK: statements

    /// A statement handle, freed after `body`.
    func withStatement<T>(_ body: (SQLHSTMT) throws -> T) throws -> T {
        guard let connection else { throw ODBCError(operation: "using a closed ODBC connection", diagnostics: []) }
        var handle: SQLHANDLE?
        try check(SQLAllocHandle(SQLSMALLINT(SQL_HANDLE_STMT), connection, &handle), SQLSMALLINT(SQL_HANDLE_DBC), connection, "allocating a statement")
        guard let statement = handle else { throw ODBCError(operation: "allocating a statement", diagnostics: []) }
        defer { SQLFreeHandle(SQLSMALLINT(SQL_HANDLE_STMT), statement) }
        return try body(statement)
    }

    /// Runs `sql` (no result set); returns the rows it affected (-1 when the driver does not say).
    @discardableResult
    public func execute(_ sql: String) throws -> Int {
        try withStatement { statement in
            let rc = execDirect(statement, sql)
            if rc == SQL_NO_DATA { return 0 }
            try check(rc, SQLSMALLINT(SQL_HANDLE_STMT), statement, "running \(Self.abbreviated(sql))")
            var count: SQLLEN = 0
            SQLRowCount(statement, &count)
            return Int(count)
        }
    }

    /// The result columns of `sql` (run with its rows discarded: use a query that returns none,
    /// `... WHERE 1 = 0`). Throws `DponeError(.schema)` for a type dpone cannot map.
    public func describe(_ sql: String) throws -> [ODBCColumn] {
        try withStatement { statement in
            try check(execDirect(statement, sql), SQLSMALLINT(SQL_HANDLE_STMT), statement, "running \(Self.abbreviated(sql))")
            return try Self.columns(statement, wide: unicode)
        }
    }

    static func columns(_ statement: SQLHSTMT, wide: Bool) throws -> [ODBCColumn] {
        var count: SQLSMALLINT = 0
        try check(SQLNumResultCols(statement, &count), SQLSMALLINT(SQL_HANDLE_STMT), statement, "counting result columns")
        var columns: [ODBCColumn] = []
        for i in 0..<Int(count) {
            var name = [SQLWCHAR](repeating: 0, count: 512)
            var nameLength: SQLSMALLINT = 0
            var type: SQLSMALLINT = 0
            var size: SQLULEN = 0
            var digits: SQLSMALLINT = 0
            var nullable: SQLSMALLINT = 0
            try check(
                SQLDescribeColW(statement, SQLUSMALLINT(i + 1), &name, SQLSMALLINT(name.count), &nameLength, &type, &size, &digits, &nullable),
                SQLSMALLINT(SQL_HANDLE_STMT), statement, "describing result column \(i + 1)")
            let columnName = ODBCText.string(name.prefix(Int(nameLength)))
            let width = size > UInt(Int32.max) ? 0 : Int(size)
            guard let (logical, fetch) = ODBCColumn.mapping(sqlType: type, size: width, digits: Int(digits), wide: wide) else {
                throw DponeError(
                    .schema, "column \(columnName) has \(ODBCColumn.typeName(type)), which dpone cannot map",
                    hint: "cast it in a query (source.options.query) to text or a number", context: ["column": columnName])
            }
            columns.append(
                ODBCColumn(
                    name: columnName, sqlType: type, size: width, digits: Int(digits), nullable: nullable != SQL_NO_NULLS,
                    type: logical, fetch: fetch))
        }
        return columns
    }

    /// Runs `sql` and hands each block of rows to `body` as a batch, on this connection's thread
    /// (`body` may block: `SourceOutput.sendBlocking`). `parameters` are bound as text, in order
    /// (nil: NULL). Returns the rows read. `cancel` is checked between blocks.
    public func read(
        _ sql: String, parameters: [String?] = [], maxRows: Int, bufferBytes: Int, cancel: CancellationFlag? = nil,
        _ body: @Sendable (Batch) throws -> Void
    ) throws -> Int {
        try withStatement { statement in
            // Parameter buffers live at fixed addresses until the statement is freed.
            let lengths = UnsafeMutablePointer<SQLLEN>.allocate(capacity: max(1, parameters.count))
            var buffers: [UnsafeMutableRawPointer] = []
            defer {
                buffers.forEach { $0.deallocate() }
                lengths.deallocate()
            }
            for (i, parameter) in parameters.enumerated() {
                // Text in the driver's encoding: UTF-16 units or UTF-8 bytes, NUL-terminated.
                let bytes: [UInt8] = unicode
                    ? (parameter.map(ODBCText.wide) ?? [0]).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
                    : Array((parameter ?? "").utf8) + [0]
                let unit = unicode ? 2 : 1
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 2)
                buffer.copyMemory(from: bytes, byteCount: bytes.count)
                buffers.append(buffer)
                lengths[i] = parameter == nil ? SQLLEN(SQL_NULL_DATA) : SQLLEN(bytes.count - unit)
                try check(
                    SQLBindParameter(
                        statement, SQLUSMALLINT(i + 1), SQLSMALLINT(SQL_PARAM_INPUT), unicode ? ODBCType.cWChar : ODBCType.cChar,
                        unicode ? ODBCType.wvarchar : ODBCType.varchar, SQLULEN(max(1, bytes.count / unit - 1)), 0, buffer,
                        SQLLEN(bytes.count), lengths + i),
                    SQLSMALLINT(SQL_HANDLE_STMT), statement, "binding parameter \(i + 1)")
            }
            let rc = execDirect(statement, sql)
            if rc == SQL_NO_DATA { return 0 }
            try check(rc, SQLSMALLINT(SQL_HANDLE_STMT), statement, "running \(Self.abbreviated(sql))")
            let reader = try ODBCBlockReader(
                statement: statement, columns: try Self.columns(statement, wide: unicode), maxRows: maxRows, bufferBytes: bufferBytes)
            var rows = 0
            while let batch = try reader.next() {
                if cancel?.isCancelled == true { throw DponeError(.cancelled, "reading was cancelled") }
                rows += batch.rowCount
                try body(batch)
            }
            return rows
        }
    }

    /// `sql` shortened for messages.
    static func abbreviated(_ sql: String) -> String {
        let flat = sql.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count > 160 ? String(flat.prefix(157)) + "..." : flat
    }
}

extension ODBCConnection {
    /// A small result as text (NULL as nil): ledger rows, counts, catalog lookups. Not for data.
    public func query(_ sql: String) throws -> [[String?]] {
        let rows = ODBCRows()
        _ = try read(sql, maxRows: 1_024, bufferBytes: 1 << 20) { batch in rows.append(batch) }
        return rows.values
    }
}

/// The rows `query` collects, on the connection's thread.
final class ODBCRows: @unchecked Sendable {
    // `@unchecked`: filled and read on the connection's thread only, inside one `query` call.
    private(set) var values: [[String?]] = []

    func append(_ batch: Batch) {
        for r in 0..<batch.rowCount {
            values.append(batch.columns.map { $0.isNull(r) ? nil : ScalarFormatting.text(of: $0.value(at: r)) })
        }
    }
}
