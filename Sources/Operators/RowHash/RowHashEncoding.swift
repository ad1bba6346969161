import Flow

/// Encodes rows per `RowHash`'s canonical encoding and hashes them, column at a time:
/// 1. measure each row's encoded length (one pass per column),
/// 2. lay all rows out back to back in one buffer for the batch,
/// 3. write each column's values into every row's slot (one pass per column),
/// 4. SHA-256 each row's slot straight into the hex output.
enum RowHashEncoding {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    static let canonicalNaN: UInt64 = 0x7FF8_0000_0000_0000

    @inline(__always)
    static func canonicalBits(_ value: Double) -> UInt64 {
        if value.isNaN { return canonicalNaN }
        return value == 0 ? 0 : value.bitPattern
    }

    /// The value bytes a fixed-width column encodes per non-NULL row; nil for length-prefixed layouts.
    private static func fixedWidth(of column: Column) -> Int? {
        switch column.type {
        case .bool: 1
        case .int16, .int32, .int64, .float32, .float64, .time, .timestamp: 8
        case .date: 4
        case .uuid: 16
        case .decimal, .numeric, .string, .bytes, .json, .list: nil
        }
    }

    /// A decimal column as its canonical text (offsets + bytes); other columns unchanged.
    private static func textual(_ column: Column) -> Column {
        guard case .decimal(_, let scale) = column.type, case .int128(let values) = column.values else { return column }
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(column.count + 1)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(column.count * 8)
        for i in 0..<column.count {
            if !column.isNull(i) { ScalarFormatting.appendDecimal(values[i], scale: scale, to: &bytes) }
            offsets.append(Int32(bytes.count))
        }
        return Column(type: .string, count: column.count, validity: column.validity, values: .variable(offsets: offsets, bytes: bytes))
    }

    /// A string column of 64-hex-digit digests, one per row.
    static func hexDigests(of columns: [Column], rowCount rows: Int) -> Column {
        let columns = columns.map(textual)
        // 1. Row lengths, then row starts (prefix sums).
        var starts = [Int](repeating: columns.count, count: rows + 1)
        for column in columns {
            if let width = fixedWidth(of: column) {
                for i in 0..<rows where !column.isNull(i) { starts[i] += width }
            } else if case .variable(let offsets, _) = column.values {
                for i in 0..<rows where !column.isNull(i) { starts[i] += 4 + Int(offsets[i + 1] - offsets[i]) }
            }
        }
        var total = 0
        for i in 0..<rows {
            let length = starts[i]
            starts[i] = total
            total += length
        }
        starts[rows] = total

        // 2-3. One buffer for the batch; each column writes its part of every row.
        var buffer = [UInt8](repeating: 0, count: total)
        var cursor = Array(starts.dropLast())
        buffer.withUnsafeMutableBytes { out in
            cursor.withUnsafeMutableBufferPointer { cursor in
                for column in columns { write(column, into: out, cursor: cursor) }
            }
        }

        // 4. Hash each row into its 64 hex digits.
        var hex = [UInt8](repeating: 0, count: rows * 64)
        buffer.withUnsafeBytes { encoded in
            hex.withUnsafeMutableBytes { hex in
                withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { digest in
                    for i in 0..<rows {
                        SHA256.hash(UnsafeRawBufferPointer(rebasing: encoded[starts[i]..<starts[i + 1]]), into: digest)
                        for k in 0..<32 {
                            hex[64 * i + 2 * k] = hexDigits[Int(digest[k] >> 4)]
                            hex[64 * i + 2 * k + 1] = hexDigits[Int(digest[k] & 15)]
                        }
                    }
                }
            }
        }
        let offsets = (0...rows).map { Int32(truncatingIfNeeded: 64 * $0) }
        return Column(type: .string, count: rows, validity: nil, values: .variable(offsets: offsets, bytes: hex))
    }

    /// Writes each row's tag byte and value of `column` at `cursor[i]`, advancing the cursors.
    private static func write(_ column: Column, into out: UnsafeMutableRawBufferPointer, cursor: UnsafeMutableBufferPointer<Int>) {
        @inline(__always) func each<T>(_ values: [T], _ body: (T, Int) -> Int) {
            values.withUnsafeBufferPointer { values in
                for i in 0..<values.count {
                    let at = cursor[i]
                    if column.isNull(i) {
                        out[at] = 0
                        cursor[i] = at + 1
                    } else {
                        out[at] = 1
                        cursor[i] = at + 1 + body(values[i], at + 1)
                    }
                }
            }
        }
        @inline(__always) func store<T: FixedWidthInteger>(_ v: T, _ at: Int) -> Int {
            out.storeBytes(of: v.bigEndian, toByteOffset: at, as: T.self)
            return MemoryLayout<T>.size
        }
        switch column.values {
        case .bool(let a): each(a) { v, at in out[at] = v ? 1 : 0; return 1 }
        case .int16(let a): each(a) { v, at in store(Int64(v), at) }
        case .int32(let a):
            if column.type == .date { each(a) { v, at in store(v, at) } } else { each(a) { v, at in store(Int64(v), at) } }
        case .int64(let a): each(a) { v, at in store(v, at) }
        case .float32(let a): each(a) { v, at in store(canonicalBits(Double(v)), at) }
        case .float64(let a): each(a) { v, at in store(canonicalBits(v), at) }
        case .int128:
            preconditionFailure("decimal columns are encoded as text")
        case .variable(let offsets, let bytes):
            offsets.withUnsafeBufferPointer { offsets in
                bytes.withUnsafeBytes { bytes in
                    for i in 0..<column.count {
                        let at = cursor[i]
                        if column.isNull(i) {
                            out[at] = 0
                            cursor[i] = at + 1
                            continue
                        }
                        let start = Int(offsets[i])
                        let length = Int(offsets[i + 1]) - start
                        out[at] = 1
                        out.storeBytes(of: UInt32(length).bigEndian, toByteOffset: at + 1, as: UInt32.self)
                        if length > 0 {
                            UnsafeMutableRawBufferPointer(rebasing: out[at + 5..<at + 5 + length])
                                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[start..<start + length]))
                        }
                        cursor[i] = at + 5 + length
                    }
                }
            }
        case .fixed16(let bytes):
            bytes.withUnsafeBytes { bytes in
                for i in 0..<column.count {
                    let at = cursor[i]
                    if column.isNull(i) {
                        out[at] = 0
                        cursor[i] = at + 1
                    } else {
                        out[at] = 1
                        UnsafeMutableRawBufferPointer(rebasing: out[at + 1..<at + 17])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[16 * i..<16 * i + 16]))
                        cursor[i] = at + 17
                    }
                }
            }
        }
    }
}
