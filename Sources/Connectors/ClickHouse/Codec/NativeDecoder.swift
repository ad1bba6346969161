import Flow

/// Decodes a ClickHouse `Native` stream (`SELECT ... FORMAT Native` over HTTP) into batches, one per
/// block. Pure: bytes in, batches out, no I/O.
///
/// Contract:
/// - Feed the stream in order, in chunks of any size; a block may straddle any number of chunks. Only
///   an incomplete block is copied (and kept); complete blocks decode straight from the chunk.
/// - The first block's header (names and types) fixes `schema` through `ClickHouseTypes.field` with
///   `policy`; a column whose type has no lossless mapping is an error naming it, raised as soon as
///   its header arrives. Later blocks must repeat the same names and types.
/// - Each block with rows becomes one `Batch`; a block without rows (the server's header-only block of
///   an empty result) only sets `schema`.
/// - An incomplete block is re-measured only once at least half again as many bytes have arrived as at
///   the previous attempt, which keeps the work linear in the stream size whatever the chunk size; the
///   block is therefore returned by a later `decode` call or at the latest by `finish()`.
/// - LowCardinality columns are decoded (String / FixedString dictionaries, Nullable included). Sources
///   may instead request `low_cardinality_allow_in_native_format=0` to receive plain columns.
/// - After a thrown error the decoder is in an unspecified state: discard it.
public struct NativeDecoder: Sendable {
    public let policy: ClickHouseTypePolicy
    /// The stream's schema, known once the first block header has arrived.
    public private(set) var schema: Schema?
    /// The ClickHouse type of each column, known with `schema`.
    public private(set) var columnTypes: [ClickHouseType] = []
    public private(set) var rowsDecoded = 0
    private var typeNames: [[UInt8]] = []
    private var pending: [UInt8] = []
    private var retryAt = 0

    public init(policy: ClickHouseTypePolicy = ClickHouseTypePolicy()) {
        self.policy = policy
    }

    /// Decodes every block that `chunk` completes.
    public mutating func decode(_ chunk: UnsafeRawBufferPointer) throws -> [Batch] {
        var batches: [Batch] = []
        if pending.isEmpty {
            let used = try decodeBlocks(chunk, into: &batches)
            if used < chunk.count {
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[used...]))
                retryAt = pending.count + pending.count / 2 + 1
            }
            return batches
        }
        pending.append(contentsOf: chunk)
        if pending.count >= retryAt { try decodePending(into: &batches) }
        return batches
    }

    public mutating func decode(_ chunk: [UInt8]) throws -> [Batch] {
        try chunk.withUnsafeBytes { try decode($0) }
    }

    /// Decodes what is left and checks that the stream ended on a block boundary.
    public mutating func finish() throws -> [Batch] {
        var batches: [Batch] = []
        if !pending.isEmpty { try decodePending(into: &batches) }
        guard pending.isEmpty else {
            if pending.starts(with: "Code: ".utf8) {
                throw DponeError(
                    .source, "ClickHouse reported an error mid-stream: " + String(decoding: pending.prefix(2000), as: UTF8.self))
            }
            throw DponeError(
                .source, "ClickHouse Native stream ended inside a block (\(pending.count) bytes left over after \(rowsDecoded) rows)",
                hint: "the connection may have been interrupted")
        }
        return batches
    }

    private mutating func decodePending(into batches: inout [Batch]) throws {
        var buffer: [UInt8] = []
        swap(&buffer, &pending)
        let used = try buffer.withUnsafeBytes { try decodeBlocks($0, into: &batches) }
        buffer.removeFirst(used)
        pending = buffer
        retryAt = pending.count + pending.count / 2 + 1
    }

    /// Decodes the complete blocks at the start of `p`; returns the bytes they take.
    private mutating func decodeBlocks(_ p: UnsafeRawBufferPointer, into batches: inout [Batch]) throws -> Int {
        var offset = 0
        while offset < p.count {
            guard let end = try measureBlock(p, at: offset) else { break }
            if let batch = try decodeBlock(p, at: offset) { batches.append(batch) }
            offset = end
        }
        return offset
    }

    /// The end offset of the block starting at `offset`, or nil when it has not fully arrived.
    private mutating func measureBlock(_ p: UnsafeRawBufferPointer, at offset: Int) throws -> Int? {
        var r = ByteReader(p, offset: offset)
        do {
            let (columns, rows) = try blockSize(&r)
            for k in 0..<columns {
                let name = try r.string()
                let type = try resolveType(k, name: name, spelled: try r.string())
                try NativeColumnScanner.skip(type, rows: rows, &r)
            }
            return r.offset
        } catch is ShortRead {
            return nil
        }
    }

    private func blockSize(_ r: inout ByteReader) throws -> (columns: Int, rows: Int) {
        let columns = try r.varUInt()
        let rows = try r.varUInt()
        guard columns <= 1 << 20, rows <= UInt64(Int32.max) else {
            throw NativeColumnScanner.malformed("a block of \(columns) columns and \(rows) rows")
        }
        if let schema, columns != schema.count {
            throw DponeError(.source, "ClickHouse Native block has \(columns) columns, the stream started with \(schema.count)")
        }
        return (Int(columns), Int(rows))
    }

    /// The type of column `k`, parsed and mapped from the first header, compared with it afterwards.
    private mutating func resolveType(_ k: Int, name: UnsafeRawBufferPointer, spelled: UnsafeRawBufferPointer) throws
        -> ClickHouseType
    {
        if k < typeNames.count {
            guard typeNames[k].elementsEqual(spelled) else {
                throw DponeError(
                    .source,
                    "ClickHouse Native column \(k + 1) changed type from \(String(decoding: typeNames[k], as: UTF8.self)) to \(String(decoding: spelled, as: UTF8.self))"
                )
            }
            return columnTypes[k]
        }
        let text = String(decoding: spelled, as: UTF8.self)
        let column = String(decoding: name, as: UTF8.self)
        guard let type = ClickHouseType(parsing: text) else {
            throw DponeError(.source, "ClickHouse column \"\(column)\" has an unreadable type name '\(text)'", context: ["column": column])
        }
        _ = try ClickHouseTypes.field(name: column, type: type, policy: policy)
        typeNames.append(Array(spelled))
        columnTypes.append(type)
        return type
    }

    /// Decodes a block that `measureBlock` found complete; nil for a block without rows.
    private mutating func decodeBlock(_ p: UnsafeRawBufferPointer, at offset: Int) throws -> Batch? {
        var r = ByteReader(p, offset: offset)
        do {
            let (columns, rows) = try blockSize(&r)
            if schema == nil {
                var fields: [Field] = []
                var probe = r
                for k in 0..<columns {
                    let name = String(decoding: try probe.string(), as: UTF8.self)
                    _ = try probe.string()
                    try NativeColumnScanner.skip(columnTypes[k], rows: rows, &probe)
                    fields.append(try ClickHouseTypes.field(name: name, type: columnTypes[k], policy: policy))
                }
                let schema = Schema(fields)
                if let duplicate = schema.duplicateNames.first {
                    throw DponeError(.source, "ClickHouse result has two columns named \"\(duplicate)\"")
                }
                self.schema = schema
            }
            guard let schema, rows > 0 else { return nil }
            var builder = BatchBuilder(schema: schema, reservingCapacity: rows)
            for k in 0..<columns {
                let name = try r.string()
                guard name.elementsEqual(schema[k].name.utf8) else {
                    throw DponeError(
                        .source, "ClickHouse Native column \(k + 1) changed name from \"\(schema[k].name)\" to \"\(String(decoding: name, as: UTF8.self))\"")
                }
                _ = try r.string()
                let decoder = NativeColumnDecoder(name: schema[k].name, type: columnTypes[k], policy: policy, firstRow: rowsDecoded)
                try decoder.decode(rows: rows, &r, into: &builder.columns[k])
            }
            rowsDecoded += rows
            return builder.finish()
        } catch is ShortRead {
            throw NativeColumnScanner.malformed("a block shorter than its measured size")
        }
    }
}
