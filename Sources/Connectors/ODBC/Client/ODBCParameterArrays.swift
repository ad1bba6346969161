import CODBC
import Flow

/// Inserts with parameter arrays (`SQL_ATTR_PARAMSET_SIZE`): a batch's columns are copied into
/// column-wise parameter buffers and sent in one `SQLExecute` per block of rows, not one per row.
extension ODBCConnection {
    /// Inserts every row of `batch` into `table` (already quoted) with one prepared
    /// `INSERT ... VALUES (?, ...)` executed over blocks of at most 65,535 rows whose buffers fit
    /// `bufferBytes`. Column names come from the batch's schema, quoted for this DBMS. Returns the
    /// rows inserted.
    @discardableResult
    public func insert(into table: String, _ batch: Batch, bufferBytes: Int = 8 << 20) throws -> Int {
        guard batch.rowCount > 0 else { return 0 }
        let names = batch.schema.fields.map { quote($0.name) }
        let sql = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
        let wide = unicode
        return try withStatement { statement in
            let rc: SQLRETURN
            if wide {
                var text = ODBCText.wide(sql)
                rc = SQLPrepareW(statement, &text, SQLINTEGER(SQL_NTS))
            } else {
                var bytes = Array(sql.utf8) + [0]
                rc = SQLPrepare(statement, &bytes, SQLINTEGER(SQL_NTS))
            }
            try check(rc, SQLSMALLINT(SQL_HANDLE_STMT), statement, "preparing \(Self.abbreviated(sql))")
            let columns = batch.columns.map { ODBCParameterColumn($0, wide: wide) }
            let rowBytes = columns.reduce(0) { $0 + $1.width + MemoryLayout<SQLLEN>.stride }
            let rowsPerExecute = max(1, min(65_535, batch.rowCount, bufferBytes / max(rowBytes, 1)))
            var start = 0
            while start < batch.rowCount {
                let count = min(rowsPerExecute, batch.rowCount - start)
                try execute(statement, columns: columns, rows: start..<(start + count), sql: sql)
                start += count
            }
            return batch.rowCount
        }
    }

    private func execute(_ statement: SQLHSTMT, columns: [ODBCParameterColumn], rows: Range<Int>, sql: String) throws {
        let n = rows.count
        var buffers: [UnsafeMutableRawPointer] = []
        var indicators: [UnsafeMutablePointer<SQLLEN>] = []
        defer {
            buffers.forEach { $0.deallocate() }
            indicators.forEach { $0.deallocate() }
        }
        try check(
            SQLSetStmtAttr(statement, SQLINTEGER(SQL_ATTR_PARAM_BIND_TYPE), SQLPOINTER(bitPattern: 0), 0),
            SQLSMALLINT(SQL_HANDLE_STMT), statement, "setting column-wise parameters")
        try check(
            SQLSetStmtAttr(statement, SQLINTEGER(SQL_ATTR_PARAMSET_SIZE), SQLPOINTER(bitPattern: UInt(n)), 0),
            SQLSMALLINT(SQL_HANDLE_STMT), statement, "setting the parameter array size")
        for (i, column) in columns.enumerated() {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, column.width * n), alignment: 8)
            let indicator = UnsafeMutablePointer<SQLLEN>.allocate(capacity: n)
            buffers.append(buffer)
            indicators.append(indicator)
            column.fill(buffer, indicator, rows: rows)
            try check(
                SQLBindParameter(
                    statement, SQLUSMALLINT(i + 1), SQLSMALLINT(SQL_PARAM_INPUT), column.cType, column.sqlType, column.columnSize,
                    column.digits, buffer, SQLLEN(column.width), indicator),
                SQLSMALLINT(SQL_HANDLE_STMT), statement, "binding parameter \(i + 1)")
        }
        let rc = SQLExecute(statement)
        if rc == SQL_NO_DATA { return }
        try check(rc, SQLSMALLINT(SQL_HANDLE_STMT), statement, "inserting \(n) rows with \(Self.abbreviated(sql))")
    }
}

/// One batch column as an ODBC parameter array: its C and SQL types and a fixed element width.
struct ODBCParameterColumn {
    let column: Column
    let wide: Bool
    let cType: SQLSMALLINT
    let sqlType: SQLSMALLINT
    let columnSize: SQLULEN
    let digits: SQLSMALLINT
    /// Bytes per element in the buffer (text: the longest value of the batch, encoded, plus NUL).
    let width: Int

    init(_ column: Column, wide: Bool) {
        self.column = column
        self.wide = wide
        switch column.type {
        case .bool: (cType, sqlType, columnSize, digits, width) = (ODBCType.cBit, ODBCType.bit, 1, 0, 1)
        case .int16: (cType, sqlType, columnSize, digits, width) = (ODBCType.cSShort, ODBCType.smallint, 5, 0, 2)
        case .int32: (cType, sqlType, columnSize, digits, width) = (ODBCType.cSLong, ODBCType.integer, 10, 0, 4)
        case .int64: (cType, sqlType, columnSize, digits, width) = (ODBCType.cSBigint, ODBCType.bigint, 19, 0, 8)
        case .float32: (cType, sqlType, columnSize, digits, width) = (ODBCType.cFloat, ODBCType.real, 7, 0, 4)
        case .float64: (cType, sqlType, columnSize, digits, width) = (ODBCType.cDouble, ODBCType.double, 15, 0, 8)
        case .date:
            (cType, sqlType, columnSize, digits, width) = (ODBCType.cDate, ODBCType.date, 10, 0, MemoryLayout<SQL_DATE_STRUCT>.stride)
        case .timestamp:
            // 26 characters with 6 fractional digits: microseconds, dpone's precision.
            (cType, sqlType, columnSize, digits, width) = (
                ODBCType.cTimestamp, ODBCType.timestamp, 26, 6, MemoryLayout<SQL_TIMESTAMP_STRUCT>.stride
            )
        case .bytes:
            let longest = Self.longest(column)
            (cType, sqlType, columnSize, digits, width) = (ODBCType.cBinary, ODBCType.varbinary, SQLULEN(max(1, longest)), 0, max(1, longest))
        case .decimal(let precision, let scale):
            (cType, sqlType, columnSize, digits, width) = (ODBCType.cChar, ODBCType.decimal, SQLULEN(precision), SQLSMALLINT(scale), precision + 3)
        case .uuid, .time:
            (cType, sqlType, columnSize, digits, width) = (ODBCType.cChar, ODBCType.varchar, 36, 0, 40)
        case .string, .json, .numeric, .list:
            // Text: UTF-16 units (wide) or UTF-8 bytes, sized by the batch's longest value in bytes,
            // which bounds its UTF-16 units too (every unit, a replacement one included, takes a byte).
            let units = Self.longest(column)
            (cType, sqlType, columnSize, digits) = (
                wide ? ODBCType.cWChar : ODBCType.cChar, wide ? ODBCType.wvarchar : ODBCType.varchar, SQLULEN(max(1, units)), 0
            )
            width = (units + 1) * (wide ? 2 : 1)
        }
    }

    /// The longest variable-width value in bytes.
    static func longest(_ column: Column) -> Int {
        guard case .variable(let offsets, _) = column.values else { return 16 }
        var longest = 0
        for i in 0..<column.count { longest = max(longest, Int(offsets[i + 1] - offsets[i])) }
        return longest
    }

    /// Writes rows `rows` of the column into `buffer` (element `r - rows.lowerBound`) and their
    /// lengths or NULL markers into `indicator`.
    func fill(_ buffer: UnsafeMutableRawPointer, _ indicator: UnsafeMutablePointer<SQLLEN>, rows: Range<Int>) {
        var text: [UInt8] = []
        for (k, r) in rows.enumerated() {
            let cell = buffer + k * width
            if column.isNull(r) {
                indicator[k] = SQLLEN(SQL_NULL_DATA)
                continue
            }
            switch column.values {
            case .bool(let a):
                cell.storeBytes(of: a[r] ? 1 : 0, as: UInt8.self)
                indicator[k] = 1
            case .int16(let a):
                cell.storeBytes(of: a[r], toByteOffset: 0, as: Int16.self)
                indicator[k] = 2
            case .int32(let a) where column.type == .date:
                let (y, m, d) = CivilCalendar.civil(days: Int(a[r]))
                cell.storeBytes(of: SQL_DATE_STRUCT(year: SQLSMALLINT(y), month: SQLUSMALLINT(m), day: SQLUSMALLINT(d)), as: SQL_DATE_STRUCT.self)
                indicator[k] = SQLLEN(width)
            case .int32(let a):
                cell.storeBytes(of: a[r], as: Int32.self)
                indicator[k] = 4
            case .int64(let a):
                switch column.type {
                case .timestamp:
                    let (days, timeOfDay) = CivilCalendar.split(micros: a[r])
                    let (y, m, d) = CivilCalendar.civil(days: Int(days))
                    let seconds = timeOfDay / 1_000_000
                    let stamp = SQL_TIMESTAMP_STRUCT(
                        year: SQLSMALLINT(y), month: SQLUSMALLINT(m), day: SQLUSMALLINT(d), hour: SQLUSMALLINT(seconds / 3_600),
                        minute: SQLUSMALLINT(seconds / 60 % 60), second: SQLUSMALLINT(seconds % 60),
                        fraction: SQLUINTEGER(timeOfDay % 1_000_000 * 1_000))
                    cell.storeBytes(of: stamp, as: SQL_TIMESTAMP_STRUCT.self)
                    indicator[k] = SQLLEN(width)
                case .time:
                    text.removeAll(keepingCapacity: true)
                    ScalarFormatting.appendTime(micros: a[r], to: &text)
                    indicator[k] = store(text, cell)
                default:
                    cell.storeBytes(of: a[r], as: Int64.self)
                    indicator[k] = 8
                }
            case .float32(let a):
                cell.storeBytes(of: a[r], as: Float.self)
                indicator[k] = 4
            case .float64(let a):
                cell.storeBytes(of: a[r], as: Double.self)
                indicator[k] = 8
            case .int128(let a):
                guard case .decimal(_, let scale) = column.type else { continue }
                text.removeAll(keepingCapacity: true)
                ScalarFormatting.appendDecimal(a[r], scale: scale, to: &text)
                indicator[k] = store(text, cell)
            case .fixed16(let b):
                text.removeAll(keepingCapacity: true)
                b.withUnsafeBytes { ScalarFormatting.appendUUID(UnsafeRawBufferPointer(rebasing: $0[(16 * r)..<(16 * r + 16)]), to: &text) }
                indicator[k] = store(text, cell)
            case .variable(let offsets, let bytes):
                let value = bytes[Int(offsets[r])..<Int(offsets[r + 1])]
                if column.type == .bytes {
                    value.withUnsafeBytes { if let base = $0.baseAddress, $0.count > 0 { cell.copyMemory(from: base, byteCount: $0.count) } }
                    indicator[k] = SQLLEN(value.count)
                } else if wide {
                    // UTF-8 straight into the cell as UTF-16 (the cell holds as many units as the
                    // longest value has bytes): no String or array per value.
                    let out = cell.assumingMemoryBound(to: UInt16.self)
                    var count = 0
                    _ = transcode(value.makeIterator(), from: UTF8.self, to: UTF16.self, stoppingOnError: false) { unit in
                        out[count] = unit
                        count += 1
                    }
                    out[count] = 0
                    indicator[k] = SQLLEN(count * 2)
                } else {
                    value.withUnsafeBytes { if let base = $0.baseAddress, $0.count > 0 { cell.copyMemory(from: base, byteCount: $0.count) } }
                    (cell + value.count).storeBytes(of: 0, as: UInt8.self)
                    indicator[k] = SQLLEN(value.count)
                }
            }
        }
    }

    /// Narrow text plus its NUL; returns its length.
    private func store(_ text: [UInt8], _ cell: UnsafeMutableRawPointer) -> SQLLEN {
        text.withUnsafeBytes { if let base = $0.baseAddress, $0.count > 0 { cell.copyMemory(from: base, byteCount: $0.count) } }
        (cell + text.count).storeBytes(of: 0, as: UInt8.self)
        return SQLLEN(text.count)
    }
}
