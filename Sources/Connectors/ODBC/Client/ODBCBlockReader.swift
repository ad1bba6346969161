import CODBC
import Flow

/// Reads a result set column-wise in blocks: every bounded column is bound to an array of
/// `rowsPerFetch` values (`SQL_ATTR_ROW_ARRAY_SIZE`, `SQL_BIND_BY_COLUMN`), each `SQLFetch` fills
/// them, and the values are decoded straight into column builders. Unbounded columns (LOBs) are
/// left unbound, must come after every bound column, and are read in chunks with `SQLGetData`;
/// a result with one reads a row per fetch.
///
/// Memory: the bound buffers are at most `bufferBytes` (rows per fetch shrink to fit, never below
/// one and never above 65,535), plus one chunk for LOBs; each block becomes one batch.
final class ODBCBlockReader {
    let statement: SQLHSTMT
    let columns: [ODBCColumn]
    let schema: Schema
    let rowsPerFetch: Int
    private var buffers: [UnsafeMutableRawPointer?]
    private var indicators: [UnsafeMutablePointer<SQLLEN>?]
    /// Where the driver writes how many rows the last fetch returned (a stable address).
    private let fetched = UnsafeMutablePointer<SQLULEN>.allocate(capacity: 1)
    private var scratch: [UInt8] = []
    private var chunk: UnsafeMutableRawPointer
    /// The chunk read before `chunk`, kept until the next call says how much of it was data.
    private var held: UnsafeMutableRawPointer
    static let chunkBytes = 64 * 1024

    /// Binds `columns` (in result order; unbounded ones last) of the executed `statement`.
    init(statement: SQLHSTMT, columns: [ODBCColumn], maxRows: Int, bufferBytes: Int) throws {
        self.statement = statement
        self.columns = columns
        schema = Schema(columns.map { Field($0.name, $0.type, nullable: $0.nullable) })
        if let firstLong = columns.firstIndex(where: \.fetch.isLong),
            let bound = columns[firstLong...].firstIndex(where: { !$0.fetch.isLong })
        {
            throw DponeError(
                .internal, "ODBC column \(columns[bound].name) is bound after the unbounded column \(columns[firstLong].name)")
        }
        let rowBytes = columns.reduce(0) { $0 + $1.fetch.elementSize + ($1.fetch.isLong ? 0 : MemoryLayout<SQLLEN>.stride) }
        let hasLong = columns.contains(where: \.fetch.isLong)
        rowsPerFetch = hasLong ? 1 : max(1, min(65_535, maxRows, bufferBytes / max(rowBytes, 1)))
        buffers = []
        indicators = []
        chunk = .allocate(byteCount: Self.chunkBytes, alignment: 8)
        held = .allocate(byteCount: Self.chunkBytes, alignment: 8)
        for (i, column) in columns.enumerated() where !column.fetch.isLong {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: column.fetch.elementSize * rowsPerFetch, alignment: 8)
            let indicator = UnsafeMutablePointer<SQLLEN>.allocate(capacity: rowsPerFetch)
            buffers.append(buffer)
            indicators.append(indicator)
            try check(
                SQLBindCol(statement, SQLUSMALLINT(i + 1), column.fetch.cType, buffer, SQLLEN(column.fetch.elementSize), indicator),
                SQLSMALLINT(SQL_HANDLE_STMT), statement, "binding column \(column.name)")
        }
        try check(
            SQLSetStmtAttr(statement, SQLINTEGER(SQL_ATTR_ROW_BIND_TYPE), SQLPOINTER(bitPattern: 0), 0),
            SQLSMALLINT(SQL_HANDLE_STMT), statement, "setting column-wise binding")
        try check(
            SQLSetStmtAttr(statement, SQLINTEGER(SQL_ATTR_ROW_ARRAY_SIZE), SQLPOINTER(bitPattern: UInt(rowsPerFetch)), 0),
            SQLSMALLINT(SQL_HANDLE_STMT), statement, "setting the row array size")
        fetched.initialize(to: 0)
        try check(
            SQLSetStmtAttr(statement, SQLINTEGER(SQL_ATTR_ROWS_FETCHED_PTR), SQLPOINTER(fetched), 0),
            SQLSMALLINT(SQL_HANDLE_STMT), statement, "setting the rows-fetched pointer")
    }

    deinit {
        for b in buffers { b?.deallocate() }
        for i in indicators { i?.deallocate() }
        chunk.deallocate()
        held.deallocate()
        fetched.deallocate()
    }

    /// The next block as a batch, or nil at the end of the result.
    func next() throws -> Batch? {
        let rc = SQLFetch(statement)
        if rc == SQL_NO_DATA { return nil }
        try check(rc, SQLSMALLINT(SQL_HANDLE_STMT), statement, "fetching rows")
        let rows = Int(fetched.pointee)
        var builders = columns.map { ColumnBuilder(type: $0.type, reservingCapacity: rows) }
        var bound = 0
        for (c, column) in columns.enumerated() {
            if column.fetch.isLong {
                // rowsPerFetch is 1: the one row's unbounded values, in column order.
                try readLong(column, index: c, into: &builders[c])
                continue
            }
            try decode(column, buffer: buffers[bound]!, indicator: indicators[bound]!, rows: rows, into: &builders[c])
            bound += 1
        }
        return Batch(schema: schema, columns: builders.indices.map { builders[$0].finish() })
    }

    private func decode(
        _ column: ODBCColumn, buffer: UnsafeMutableRawPointer, indicator: UnsafeMutablePointer<SQLLEN>, rows: Int,
        into builder: inout ColumnBuilder
    ) throws {
        let size = column.fetch.elementSize
        for r in 0..<rows {
            let length = indicator[r]
            if length == SQLLEN(SQL_NULL_DATA) {
                builder.appendNull()
                continue
            }
            let cell = buffer + r * size
            switch column.fetch {
            case .int16: builder.append(cell.loadUnaligned(as: Int16.self))
            case .int32: builder.append(cell.loadUnaligned(as: Int32.self))
            case .int64: builder.append(cell.loadUnaligned(as: Int64.self))
            case .float32: builder.append(cell.loadUnaligned(as: Float.self))
            case .float64: builder.append(cell.loadUnaligned(as: Double.self))
            case .bit: builder.append(cell.load(as: UInt8.self) != 0)
            case .date:
                let d = cell.loadUnaligned(as: SQL_DATE_STRUCT.self)
                builder.append(Int32(CivilCalendar.days(year: Int(d.year), month: Int(d.month), day: Int(d.day))))
            case .timestamp:
                let t = cell.loadUnaligned(as: SQL_TIMESTAMP_STRUCT.self)
                let days = Int64(CivilCalendar.days(year: Int(t.year), month: Int(t.month), day: Int(t.day)))
                let seconds = days * 86_400 + Int64(t.hour) * 3_600 + Int64(t.minute) * 60 + Int64(t.second)
                builder.append(seconds * 1_000_000 + Int64(t.fraction) / 1_000)
            case .wideText(let chars):
                let units = try cellLength(column, length, limit: chars * 2) / 2
                scratch.removeAll(keepingCapacity: true)
                ODBCText.transcode(UnsafeBufferPointer(start: cell.assumingMemoryBound(to: SQLWCHAR.self), count: units), into: &scratch)
                scratch.withUnsafeBytes { builder.append(bytes: $0) }
            case .utf8Text(let bytes):
                builder.append(bytes: UnsafeRawBufferPointer(start: cell, count: try cellLength(column, length, limit: bytes)))
            case .asciiText(let bytes):
                let n = try cellLength(column, length, limit: bytes)
                let text = UnsafeRawBufferPointer(start: cell, count: n)
                guard builder.append(text: text) else {
                    throw DponeError(
                        .source, "column \(column.name): '\(String(decoding: text, as: UTF8.self))' is not a \(column.type)",
                        context: ["column": column.name])
                }
            case .binary(let bytes):
                builder.append(bytes: UnsafeRawBufferPointer(start: cell, count: try cellLength(column, length, limit: bytes)))
            case .longText, .longBinary:
                break
            }
        }
    }

    /// A bound value's byte length; a value longer than its buffer (the driver reported a smaller
    /// size than it holds) fails rather than being cut.
    private func cellLength(_ column: ODBCColumn, _ length: SQLLEN, limit: Int) throws -> Int {
        guard length >= 0, Int(length) <= limit else {
            throw DponeError(
                .source,
                "column \(column.name) holds a value longer than the \(column.size) the driver declared (\(length < 0 ? "unknown length" : "\(length) bytes"))",
                hint: "cast it to a wider type in a query, or read it as a long column", context: ["column": column.name])
        }
        return Int(length)
    }

    /// One unbounded value, in chunks of `chunkBytes`, never sized from the driver's column size.
    private func readLong(_ column: ODBCColumn, index: Int, into builder: inout ColumnBuilder) throws {
        let wide = column.fetch == .longText(wide: true)
        let text = column.fetch != .longBinary
        scratch.removeAll(keepingCapacity: true)
        var isNull = false
        // What each call delivered: the driver reports the bytes remaining before the call, so a
        // truncated chunk holds (remaining now - remaining at the next call); drivers that do not
        // fill a chunk to the last unit (a surrogate pair that did not fit) are read exactly.
        var pending: (bytes: Int, remaining: Int)?
        let terminator = wide ? 2 : (text ? 1 : 0)
        var carry: SQLWCHAR?
        func keep(_ n: Int, more: Bool) {
            if wide {
                ODBCText.transcode(
                    UnsafeBufferPointer(start: held.assumingMemoryBound(to: SQLWCHAR.self), count: n / 2), into: &scratch,
                    carry: &carry, more: more)
            } else {
                scratch.append(contentsOf: UnsafeRawBufferPointer(start: held, count: n))
            }
        }
        while true {
            var length: SQLLEN = 0
            let rc = SQLGetData(statement, SQLUSMALLINT(index + 1), column.fetch.cType, chunk, SQLLEN(Self.chunkBytes), &length)
            if rc == SQL_NO_DATA { break }
            try check(rc, SQLSMALLINT(SQL_HANDLE_STMT), statement, "reading column \(column.name)")
            if length == SQLLEN(SQL_NULL_DATA) {
                isNull = true
                break
            }
            let capacity = Self.chunkBytes - terminator
            if let previous = pending {
                let delivered = length == SQLLEN(SQL_NO_TOTAL) || previous.remaining < 0 ? previous.bytes : min(previous.bytes, previous.remaining - Int(length))
                keep(delivered, more: true)
            }
            swap(&chunk, &held)
            if rc == SQL_SUCCESS {
                keep(min(Int(length), capacity), more: false)
                pending = nil
                break
            }
            pending = (capacity, length == SQLLEN(SQL_NO_TOTAL) ? -1 : Int(length))
        }
        if let previous = pending { keep(previous.bytes, more: false) }
        if isNull {
            builder.appendNull()
        } else if column.type == .string || column.type == .bytes {
            scratch.withUnsafeBytes { builder.append(bytes: $0) }
        } else {
            let ok = scratch.withUnsafeBytes { builder.append(text: $0) }
            guard ok else {
                throw DponeError(.source, "column \(column.name): '\(String(decoding: scratch, as: UTF8.self))' is not a \(column.type)")
            }
        }
    }
}
