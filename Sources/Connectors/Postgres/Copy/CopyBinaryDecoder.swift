import Flow

/// Decodes a PostgreSQL binary COPY stream (`COPY ... TO STDOUT (FORMAT binary)`) straight into
/// column builders. Pure: bytes in, builder appends out, no I/O.
///
/// Contract:
/// - Feed the stream in order, in chunks of any size (libpq hands out one CopyData message per call,
///   usually one tuple; a tuple or the header split across chunks is reassembled).
/// - Every complete tuple in a chunk is appended to the builder before `decode` returns: exactly one
///   value per column per tuple. A partial tuple is kept (the only copy the decoder makes) and
///   completed by later chunks.
/// - The stream opens with the 11-byte signature, flags (the OID flag and unknown critical bits are
///   rejected) and a header extension (skipped), and ends with the field count -1. `finish()` throws
///   when that trailer has not arrived or bytes are left over.
/// - Each tuple must have one field per schema column. Values convert per `PostgresWireFormat`:
///   numeric exactly at the column's scale (NaN, ±Infinity, extra fractional digits or more than 38
///   digits are errors), dates and timestamps from PostgreSQL's 2000-01-01 epoch to Unix time
///   (±infinity are errors), time 24:00:00 is an error, jsonb without its version byte 1 is an error.
/// - After a thrown error the decoder and the builder are in an unspecified state: discard both.
public struct CopyBinaryDecoder: Sendable {
    public let schema: Schema
    public let formats: [PostgresWireFormat]
    private let scales: [Int]
    private var stage = Stage.header
    private var pending: [UInt8] = []
    /// Tuples decoded so far (for messages and counts).
    public private(set) var rowsDecoded = 0

    private enum Stage: Sendable { case header, tuples, finished }

    private enum Extent {
        case complete(Int)
        /// At least this many more bytes are needed before the extent is known or complete.
        case incomplete(needAtLeast: Int)
    }

    /// - Throws: `DponeError(.schema)` when a format cannot decode into its column's type.
    public init(schema: Schema, formats: [PostgresWireFormat]) throws {
        guard schema.count == formats.count else {
            throw DponeError(.schema, "COPY decoder has \(formats.count) wire formats for \(schema.count) columns")
        }
        for (field, format) in zip(schema.fields, formats) where !format.accepts(field.type) {
            throw DponeError(
                .schema, "PostgreSQL wire format \(format) cannot decode into \(field.type)",
                context: ["column": field.name])
        }
        self.schema = schema
        self.formats = formats
        self.scales = schema.fields.map { if case .decimal(_, let s) = $0.type { s } else { 0 } }
    }

    /// A decoder using `PostgresWireFormat.default(for:)` for every column (json as jsonb).
    public init(schema: Schema) {
        // The default formats accept their own types by construction.
        try! self.init(schema: schema, formats: schema.fields.map { PostgresWireFormat.default(for: $0.type) })
    }

    /// Whether the trailer has been read.
    public var isFinished: Bool { stage == .finished }

    /// Decodes every complete tuple of `chunk` (plus any kept partial tuple) into `builder`, whose
    /// columns follow `schema`. Returns the number of tuples appended.
    @discardableResult
    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into builder: inout BatchBuilder) throws -> Int {
        precondition(builder.columns.count == formats.count, "the builder's columns must follow the decoder's schema")
        let before = rowsDecoded
        var input = chunk
        if !pending.isEmpty {
            // Top up the kept bytes just enough to complete them, then continue on the chunk itself.
            while true {
                let extent = try pending.withUnsafeBytes { try measure($0) }
                if case .incomplete(let need) = extent {
                    let take = min(need, input.count)
                    if take == 0 { return rowsDecoded - before }
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[0..<take]))
                    input = UnsafeRawBufferPointer(rebasing: input[take...])
                    continue
                }
                var kept: [UInt8] = []
                swap(&kept, &pending)
                try kept.withUnsafeBytes { try consume($0, into: &builder) }
                kept.removeAll(keepingCapacity: true)
                pending = kept
                break
            }
        }
        var offset = 0
        while offset < input.count {
            guard stage != .finished else {
                throw DponeError(.source, "binary COPY stream has \(input.count - offset) bytes after its trailer")
            }
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            switch try measure(rest) {
            case .complete(let n):
                try consume(UnsafeRawBufferPointer(rebasing: rest[0..<n]), into: &builder)
                offset += n
            case .incomplete:
                pending.append(contentsOf: rest)
                offset = input.count
            }
        }
        return rowsDecoded - before
    }

    /// Checks that the stream ended with its trailer and nothing is left over.
    public func finish() throws {
        guard stage == .finished, pending.isEmpty else {
            throw DponeError(
                .source, "binary COPY stream ended early (\(rowsDecoded) rows read, no trailer)",
                hint: "the connection may have been interrupted")
        }
    }

    // MARK: framing

    /// The length of the header or of the tuple at the start of `p`.
    private func measure(_ p: UnsafeRawBufferPointer) throws -> Extent {
        switch stage {
        case .header:
            let fixed = CopyBinaryFormat.signature.count + 8
            guard p.count >= fixed else { return .incomplete(needAtLeast: fixed - p.count) }
            let extensionLength = Int(Self.int32(p, fixed - 4))
            guard extensionLength >= 0 else { throw DponeError(.source, "binary COPY header has a negative extension length") }
            let n = fixed + extensionLength
            return p.count >= n ? .complete(n) : .incomplete(needAtLeast: n - p.count)
        case .tuples, .finished:
            guard p.count >= 2 else { return .incomplete(needAtLeast: 2 - p.count) }
            let fields = Int(Self.int16(p, 0))
            if fields == -1 { return .complete(2) }
            guard fields == formats.count else {
                throw DponeError(
                    .source, "binary COPY tuple \(rowsDecoded + 1) has \(fields) fields, expected \(formats.count)")
            }
            var o = 2
            for _ in 0..<fields {
                guard p.count >= o + 4 else { return .incomplete(needAtLeast: o + 4 - p.count) }
                let length = Int(Self.int32(p, o))
                o += 4
                if length > 0 { o += length } else if length < -1 { throw malformed("a negative field length") }
            }
            return p.count >= o ? .complete(o) : .incomplete(needAtLeast: o - p.count)
        }
    }

    /// Processes one complete header or tuple (as measured).
    private mutating func consume(_ p: UnsafeRawBufferPointer, into builder: inout BatchBuilder) throws {
        switch stage {
        case .header:
            guard p.starts(with: CopyBinaryFormat.signature) else {
                throw DponeError(.source, "not a binary COPY stream (bad signature)")
            }
            let flags = UInt32(bitPattern: Self.int32(p, CopyBinaryFormat.signature.count))
            guard flags & CopyBinaryFormat.hasOIDsFlag == 0 else {
                throw DponeError(.source, "binary COPY streams WITH OIDS are not supported")
            }
            guard flags & 0xFFFF == 0 else { throw malformed("unknown critical header flags") }
            stage = .tuples
        case .tuples, .finished:
            if Self.int16(p, 0) == -1 {
                stage = .finished
                return
            }
            var o = 2
            for column in 0..<formats.count {
                let length = Int(Self.int32(p, o))
                o += 4
                if length < 0 {
                    builder.columns[column].appendNull()
                    continue
                }
                try decodeField(
                    UnsafeRawBufferPointer(rebasing: p[o..<o + length]), column: column, into: &builder.columns[column])
                o += length
            }
            rowsDecoded += 1
        }
    }

    // MARK: values

    private func decodeField(_ v: UnsafeRawBufferPointer, column: Int, into builder: inout ColumnBuilder) throws {
        switch formats[column] {
        case .bool:
            try expect(v, 1, column)
            builder.append(v[0] != 0)
        case .int2:
            try expect(v, 2, column)
            builder.append(Self.int16(v, 0))
        case .int4:
            try expect(v, 4, column)
            builder.append(Self.int32(v, 0))
        case .int8:
            try expect(v, 8, column)
            builder.append(Self.int64(v, 0))
        case .float4:
            try expect(v, 4, column)
            builder.append(Float(bitPattern: UInt32(bitPattern: Self.int32(v, 0))))
        case .float8:
            try expect(v, 8, column)
            builder.append(Double(bitPattern: UInt64(bitPattern: Self.int64(v, 0))))
        case .numeric:
            do {
                builder.append(try PostgresNumeric.decode(v, scale: scales[column]))
            } catch {
                throw valueError(column, error.description)
            }
        case .text, .json, .bytea:
            builder.append(bytes: v)
        case .jsonb:
            guard v.count >= 1, v[0] == 1 else { throw valueError(column, "unsupported jsonb version") }
            builder.append(bytes: UnsafeRawBufferPointer(rebasing: v[1...]))
        case .uuid:
            try expect(v, 16, column)
            builder.append(bytes: v)
        case .date:
            try expect(v, 4, column)
            let days = Self.int32(v, 0)
            guard days != Int32.max, days != Int32.min else {
                throw valueError(column, "\(days == Int32.max ? "" : "-")infinity dates are not supported")
            }
            let (unix, overflow) = days.addingReportingOverflow(CopyBinaryFormat.epochDayOffset)
            guard !overflow else { throw valueError(column, "date out of range") }
            builder.append(unix)
        case .time:
            try expect(v, 8, column)
            let micros = Self.int64(v, 0)
            guard micros >= 0, micros < CivilCalendar.microsPerDay else {
                throw valueError(column, "time 24:00:00 (or out of range) is not supported")
            }
            builder.append(micros)
        case .timestamp, .timestamptz:
            try expect(v, 8, column)
            let micros = Self.int64(v, 0)
            guard micros != Int64.max, micros != Int64.min else {
                throw valueError(column, "\(micros == Int64.max ? "" : "-")infinity timestamps are not supported")
            }
            let (unix, overflow) = micros.addingReportingOverflow(CopyBinaryFormat.epochMicrosOffset)
            guard !overflow else { throw valueError(column, "timestamp out of range") }
            builder.append(unix)
        case .array:
            // Sources read arrays as JSON (`array_to_json`); the binary array format is written only.
            throw valueError(column, "binary arrays are not read (select the column with array_to_json)")
        }
    }

    @inline(__always)
    private func expect(_ v: UnsafeRawBufferPointer, _ width: Int, _ column: Int) throws {
        guard v.count == width else {
            throw valueError(column, "a \(formats[column]) value is \(width) bytes, got \(v.count)")
        }
    }

    private func valueError(_ column: Int, _ reason: String) -> DponeError {
        let field = schema[column]
        return DponeError(
            .source, "cannot decode column \"\(field.name)\" (\(field.type)) of row \(rowsDecoded + 1): \(reason)",
            context: ["column": field.name])
    }

    private func malformed(_ what: String) -> DponeError {
        DponeError(.source, "malformed binary COPY stream: \(what) in tuple \(rowsDecoded + 1)")
    }

    // MARK: big-endian reads

    @inline(__always)
    static func int16(_ p: UnsafeRawBufferPointer, _ at: Int) -> Int16 {
        Int16(bitPattern: p.loadUnaligned(fromByteOffset: at, as: UInt16.self).bigEndian)
    }

    @inline(__always)
    static func int32(_ p: UnsafeRawBufferPointer, _ at: Int) -> Int32 {
        Int32(bitPattern: p.loadUnaligned(fromByteOffset: at, as: UInt32.self).bigEndian)
    }

    @inline(__always)
    static func int64(_ p: UnsafeRawBufferPointer, _ at: Int) -> Int64 {
        Int64(bitPattern: p.loadUnaligned(fromByteOffset: at, as: UInt64.self).bigEndian)
    }
}
