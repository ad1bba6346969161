import Flow
import Synchronization

/// What an ODBC source reads: a table (or view) or a query, through any ODBC driver.
public struct ODBCSourceOptions: Sendable {
    /// The driver connection string (`Driver=...;Server=...;UID=...;PWD=...` or `DSN=...`).
    public var connectionString: String
    /// `schema.table` to read, or nil with `query`.
    public var schema: String?
    public var table: String?
    /// A SELECT read as it is (wrapped as a derived table), or nil with `table`.
    public var query: String?
    /// An allowlist of columns, in order (nil: all).
    public var columns: [String]?
    /// Raw SQL ANDed into the WHERE clause (trusted manifest text).
    public var customPredicate: String?
    /// The cursor column of an incremental read: rows with a value above the stored one, in its order.
    public var incrementalColumn: String?
    /// How far behind the stored cursor a run re-reads (`ODBCLookback`).
    public var lookback: String?
    public var batchRows: Int
    /// The byte budget of the bound fetch buffers (rows per fetch shrink to fit).
    public var bufferBytes: Int
    /// How text crosses the API (`options.text_encoding`).
    public var textEncoding: ODBCTextEncoding

    public static let defaultBatchRows = 65_536

    public init(
        connectionString: String, schema: String? = nil, table: String? = nil, query: String? = nil, columns: [String]? = nil,
        customPredicate: String? = nil, incrementalColumn: String? = nil, batchRows: Int = defaultBatchRows,
        lookback: String? = nil, bufferBytes: Int = 8 << 20, textEncoding: ODBCTextEncoding = .automatic
    ) {
        self.connectionString = connectionString
        self.schema = schema
        self.table = table
        self.query = query
        self.columns = columns
        self.customPredicate = customPredicate
        self.incrementalColumn = incrementalColumn
        self.lookback = lookback
        self.batchRows = batchRows
        self.bufferBytes = bufferBytes
        self.textEncoding = textEncoding
    }

    /// What the source reads, for names and messages (never the connection string).
    public var target: String { table.map { [schema, $0].compactMap { $0 }.joined(separator: ".") } ?? "query" }
}

/// Reads a table or a query through any ODBC driver as a bounded source: column-wise block fetch
/// (`ODBCBlockReader`) on the connection's thread, batches handed on with `sendBlocking`, one
/// checkpoint at the end.
///
/// Positions: `{"cursor": {"column": c, "value": "<text>"}}` with `incremental_column` (the next
/// run reads `c > value`, ordered by `c`), else `{"rows": n}`. The cursor rule is PostgreSQL's:
/// the column must grow in commit order, NULLs are never read incrementally.
public actor ODBCSource: SourceOperator {
    public nonisolated let name: String
    public nonisolated let options: ODBCSourceOptions
    private var prepared: Prepared?

    private struct Prepared: Sendable {
        let connection: ODBCConnection
        /// The columns in output order, and the read order (bounded columns first, unbounded last:
        /// `SQLGetData` reads only after the last bound column).
        let columns: [ODBCColumn]
        let readOrder: [Int]
        let schema: Schema
        let quotedSource: String
        let cursorIndex: Int?
    }

    public init(name: String = "odbc", options: ODBCSourceOptions) throws {
        guard (options.table == nil) != (options.query == nil) else {
            throw DponeError(.manifest, "an odbc source reads a table or a query (source.table or options.query), exactly one")
        }
        guard options.batchRows > 0 else { throw DponeError(.manifest, "batch_rows must be positive") }
        self.name = name
        self.options = options
    }

    public func outputSchema() async throws -> Schema { try await prepare().schema }

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        let ready = try await prepare()
        defer { prepared = nil }
        let cancel = CancellationFlag()
        var predicates = options.customPredicate.map { ["(\($0))"] } ?? []
        var parameters: [String?] = []
        var order = ""
        let cursorName = options.incrementalColumn
        if let cursorName, ready.cursorIndex != nil {
            let quoted = await ready.connection.quote(cursorName)
            if let stored = try Self.storedCursor(resumeFrom, column: cursorName) {
                predicates.append("\(quoted) > ?")
                if let lookback = options.lookback, let index = ready.cursorIndex {
                    parameters.append(
                        try ODBCLookback.lowerBound(stored: stored, lookback: lookback, type: ready.columns[index].type, column: cursorName))
                } else {
                    parameters.append(stored)
                }
            }
            predicates.append("\(quoted) IS NOT NULL")
            order = " ORDER BY \(quoted)"
        }
        var selectList: [String] = []
        for i in ready.readOrder { selectList.append(await ready.connection.quote(ready.columns[i].name)) }
        let sql = "SELECT \(selectList.joined(separator: ", ")) FROM \(ready.quotedSource)"
            + (predicates.isEmpty ? "" : " WHERE " + predicates.joined(separator: " AND ")) + order
        let schema = ready.schema
        let readOrder = ready.readOrder
        let cursorIndex = ready.cursorIndex
        let lastCursor = Mutex<String?>(nil)
        let rows: Int
        do {
            rows = try await withTaskCancellationHandler {
                try await ready.connection.read(
                    sql, parameters: parameters, maxRows: options.batchRows, bufferBytes: options.bufferBytes, cancel: cancel
                ) { block in
                    // Back to output order.
                    var columns = [Column?](repeating: nil, count: readOrder.count)
                    for (position, index) in readOrder.enumerated() { columns[index] = block.columns[position] }
                    let batch = Batch(schema: schema, columns: columns.map { $0! })
                    if let cursorIndex, batch.rowCount > 0 {
                        lastCursor.withLock { $0 = ScalarFormatting.text(of: batch.columns[cursorIndex].value(at: batch.rowCount - 1)) }
                    }
                    try output.sendBlocking(batch)
                }
            } onCancel: {
                cancel.cancel()
            }
        } catch let error as ODBCError {
            await ready.connection.close()
            throw error.dponeError(.source)
        } catch {
            await ready.connection.close()
            throw error
        }
        await ready.connection.close()
        odbcLogger.debug("\(options.target): read \(rows) rows")
        let positions: StateValue
        if let cursorName {
            // No new row: the stored cursor stays.
            let stored = try Self.storedCursor(resumeFrom, column: cursorName)
            let value = lastCursor.withLock { $0 } ?? stored
            positions = .object(["cursor": .object(["column": .string(cursorName), "value": value.map(StateValue.string) ?? .null])])
        } else {
            positions = .object(["rows": .int(Int64(rows))])
        }
        try await output.checkpoint(positions: positions, complete: cursorName == nil)
    }

    public func acknowledge(_ checkpoint: CheckpointID) async throws {}

    /// The stored cursor value for `column`; a stored cursor of another column is an error.
    static func storedCursor(_ resumeFrom: StateValue?, column: String) throws -> String? {
        guard let cursor = resumeFrom?["cursor"] else { return nil }
        if let stored = cursor["column"]?.stringValue, stored != column {
            throw DponeError(
                .state, "the stored cursor is on column \(stored), the manifest's incremental_column is \(column)",
                hint: "reset the pipeline's state to read from the start with the new column")
        }
        return cursor["value"]?.stringValue
    }

    private func prepare() async throws -> Prepared {
        if let prepared { return prepared }
        let connection: ODBCConnection
        do {
            connection = try await ODBCConnection.connect(options.connectionString, text: options.textEncoding)
        } catch let error as ODBCError {
            throw error.dponeError(.source)
        }
        do {
            let source: String
            if let table = options.table {
                var parts: [String] = []
                if let schema = options.schema { parts.append(await connection.quote(schema)) }
                parts.append(await connection.quote(table))
                source = parts.joined(separator: ".")
            } else {
                source = "(\(options.query!)) dpone_query"
            }
            var list = "*"
            if let columns = options.columns {
                var quoted: [String] = []
                for c in columns { quoted.append(await connection.quote(c)) }
                list = quoted.joined(separator: ", ")
            }
            let columns = try await connection.describe("SELECT \(list) FROM \(source) WHERE 1 = 0")
            let readOrder = columns.indices.filter { !columns[$0].fetch.isLong } + columns.indices.filter { columns[$0].fetch.isLong }
            var cursorIndex: Int?
            if let cursor = options.incrementalColumn {
                guard let index = columns.firstIndex(where: { $0.name == cursor }) else {
                    throw DponeError(
                        .schema, "incremental_column \(cursor) is not a column of \(options.target)",
                        hint: "columns: " + columns.map(\.name).joined(separator: ", "))
                }
                cursorIndex = index
            }
            let ready = Prepared(
                connection: connection, columns: columns, readOrder: readOrder,
                schema: Schema(columns.map { Field($0.name, $0.type, nullable: $0.nullable) }), quotedSource: source,
                cursorIndex: cursorIndex)
            prepared = ready
            return ready
        } catch {
            await connection.close()
            if let error = error as? ODBCError { throw error.dponeError(.source) }
            throw error
        }
    }
}
