import Flow
import Formats

/// Encodes batches as a PostgreSQL binary COPY stream (`COPY ... FROM STDIN (FORMAT binary)`).
/// Pure: batches in, bytes appended to a caller-owned buffer, no I/O.
///
/// Contract:
/// - The first `encode` (or `finish`) writes the header; `finish` writes the trailer. Between them,
///   every row of every batch becomes one tuple with one field per schema column, in schema order.
/// - Values convert per `PostgresWireFormat`: decimals as binary numeric with dscale = the column's
///   scale, dates and timestamps to PostgreSQL's 2000-01-01 epoch, json as jsonb (version byte 1)
///   or json text. The server still checks what only it knows (precision of the target column,
///   UTF-8 validity, NUL bytes in text).
/// - `buffer` is only appended to; the caller sends and clears it (e.g. per batch) and reuses it.
public struct CopyBinaryEncoder: Sendable {
    public let schema: Schema
    public let formats: [PostgresWireFormat]
    private var wroteHeader = false

    /// - Throws: `DponeError(.schema)` when a format cannot encode its column's type.
    public init(schema: Schema, formats: [PostgresWireFormat]) throws {
        guard schema.count == formats.count else {
            throw DponeError(.schema, "COPY encoder has \(formats.count) wire formats for \(schema.count) columns")
        }
        for (field, format) in zip(schema.fields, formats) where !format.accepts(field.type) {
            throw DponeError(
                .schema, "PostgreSQL wire format \(format) cannot encode \(field.type)", context: ["column": field.name])
        }
        self.schema = schema
        self.formats = formats
    }

    /// An encoder using `PostgresWireFormat.default(for:)` for every column (json as jsonb).
    public init(schema: Schema) {
        try! self.init(schema: schema, formats: schema.fields.map { PostgresWireFormat.default(for: $0.type) })
    }

    /// Appends the header (first call only) and one tuple per row of `batch`.
    /// - Precondition: `batch.schema` has this encoder's column types, in order.
    public mutating func encode(_ batch: Batch, into buffer: inout [UInt8]) throws {
        precondition(batch.columns.count == formats.count, "batch has \(batch.columns.count) columns, encoder \(formats.count)")
        writeHeaderOnce(&buffer)
        let writers = try batch.columns.indices.map {
            try nullableWriter(batch.columns[$0], format: formats[$0], name: schema[$0].name)
        }
        let fieldCount = UInt16(formats.count)
        for row in 0..<batch.rowCount {
            Self.append(fieldCount, to: &buffer)
            for writer in writers { try writer(row, &buffer) }
        }
    }

    /// Appends the header when nothing was encoded yet, then the trailer.
    public mutating func finish(into buffer: inout [UInt8]) {
        writeHeaderOnce(&buffer)
        buffer.append(contentsOf: CopyBinaryFormat.trailer)
    }

    private mutating func writeHeaderOnce(_ buffer: inout [UInt8]) {
        if !wroteHeader {
            buffer.append(contentsOf: CopyBinaryFormat.header)
            wroteHeader = true
        }
    }

    private typealias FieldWriter = (Int, inout [UInt8]) throws -> Void

    /// A writer of the field for row `i` of `column`: length -1 for NULL, else `fieldWriter`'s.
    private func nullableWriter(_ column: Column, format: PostgresWireFormat, name: String) throws -> FieldWriter {
        let write = try fieldWriter(column, format: format, name: name)
        guard let validity = column.validity else { return write }
        return { i, out in
            if validity.isSet(i) { try write(i, &out) } else { Self.append(UInt32(bitPattern: -1), to: &out) }
        }
    }

    /// A writer of the length-prefixed field for row `i` of `column` (not NULL).
    private func fieldWriter(_ column: Column, format: PostgresWireFormat, name: String) throws -> FieldWriter {
        switch (column.values, format) {
        case (.bool(let a), _):
            return { i, out in Self.append(UInt32(1), to: &out); out.append(a[i] ? 1 : 0) }
        case (.int16(let a), _):
            return { i, out in Self.append(UInt32(2), to: &out); Self.append(UInt16(bitPattern: a[i]), to: &out) }
        case (.int32(let a), .date):
            return { i, out in
                let (pg, overflow) = a[i].subtractingReportingOverflow(CopyBinaryFormat.epochDayOffset)
                guard !overflow else { throw Self.valueError(name, "date out of PostgreSQL's range") }
                Self.append(UInt32(4), to: &out)
                Self.append(UInt32(bitPattern: pg), to: &out)
            }
        case (.int32(let a), _):
            return { i, out in Self.append(UInt32(4), to: &out); Self.append(UInt32(bitPattern: a[i]), to: &out) }
        case (.int64(let a), .timestamp), (.int64(let a), .timestamptz):
            return { i, out in
                let (pg, overflow) = a[i].subtractingReportingOverflow(CopyBinaryFormat.epochMicrosOffset)
                guard !overflow else { throw Self.valueError(name, "timestamp out of PostgreSQL's range") }
                Self.append(UInt32(8), to: &out)
                Self.append(UInt64(bitPattern: pg), to: &out)
            }
        case (.int64(let a), .time):
            return { i, out in
                guard a[i] >= 0, a[i] < CivilCalendar.microsPerDay else {
                    throw Self.valueError(name, "time \(a[i]) µs is outside one day")
                }
                Self.append(UInt32(8), to: &out)
                Self.append(UInt64(bitPattern: a[i]), to: &out)
            }
        case (.int64(let a), _):
            return { i, out in Self.append(UInt32(8), to: &out); Self.append(UInt64(bitPattern: a[i]), to: &out) }
        case (.float32(let a), _):
            return { i, out in Self.append(UInt32(4), to: &out); Self.append(a[i].bitPattern, to: &out) }
        case (.float64(let a), _):
            return { i, out in Self.append(UInt32(8), to: &out); Self.append(a[i].bitPattern, to: &out) }
        case (.int128(let a), _):
            guard case .decimal(_, let scale) = column.type else {
                throw DponeError(.internal, "int128 column of type \(column.type)", context: ["column": name])
            }
            return { i, out in
                let at = out.count
                Self.append(UInt32(0), to: &out)
                let n = PostgresNumeric.encode(a[i], scale: scale, to: &out)
                Self.patch(UInt32(n), at: at, in: &out)
            }
        case (.variable(let offsets, let bytes), .numeric):
            return { i, out in
                let at = out.count
                Self.append(UInt32(0), to: &out)
                let n = bytes.withUnsafeBytes { raw in
                    PostgresNumeric.encode(text: UnsafeRawBufferPointer(rebasing: raw[Int(offsets[i])..<Int(offsets[i + 1])]), to: &out)
                }
                guard let n else {
                    out.removeSubrange(at...)
                    let text = String(decoding: bytes[Int(offsets[i])..<Int(offsets[i + 1])], as: UTF8.self)
                    throw Self.valueError(name, "'\(text)' is not an exact decimal PostgreSQL's numeric holds")
                }
                Self.patch(UInt32(n), at: at, in: &out)
            }
        case (.variable, .array(let elementOID, let elementFormat)):
            // The batch's elements flattened once; each row writes its range of them.
            let (elements, offsets) = try ListText.flatten(column, name: name)
            let element = try nullableWriter(elements, format: elementFormat, name: name)
            let hasNulls: UInt32 = elements.validity == nil ? 0 : 1
            return { i, out in
                let at = out.count
                Self.append(UInt32(0), to: &out)
                let count = offsets[i + 1] - offsets[i]
                Self.append(UInt32(count == 0 ? 0 : 1), to: &out)
                Self.append(count == 0 ? 0 : hasNulls, to: &out)
                Self.append(elementOID, to: &out)
                if count > 0 {
                    Self.append(UInt32(count), to: &out)
                    Self.append(UInt32(1), to: &out)
                    for k in offsets[i]..<offsets[i + 1] { try element(k, &out) }
                }
                Self.patch(UInt32(out.count - at - 4), at: at, in: &out)
            }
        case (.variable(let offsets, let bytes), .jsonb):
            return { i, out in
                let start = Int(offsets[i])
                let end = Int(offsets[i + 1])
                Self.append(UInt32(end - start + 1), to: &out)
                out.append(1)
                out.append(contentsOf: bytes[start..<end])
            }
        case (.variable(let offsets, let bytes), _):
            return { i, out in
                let start = Int(offsets[i])
                let end = Int(offsets[i + 1])
                Self.append(UInt32(end - start), to: &out)
                out.append(contentsOf: bytes[start..<end])
            }
        case (.fixed16(let bytes), _):
            return { i, out in
                Self.append(UInt32(16), to: &out)
                out.append(contentsOf: bytes[16 * i..<16 * i + 16])
            }
        }
    }

    private static func valueError(_ column: String, _ reason: String) -> DponeError {
        DponeError(.sink, "cannot encode column \"\(column)\" for PostgreSQL: \(reason)", context: ["column": column])
    }

    // MARK: big-endian writes

    @inline(__always)
    static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    @inline(__always)
    static func patch(_ v: UInt32, at offset: Int, in out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { raw in
            for k in 0..<4 { out[offset + k] = raw[k] }
        }
    }
}
