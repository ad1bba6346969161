import Flow

/// Renders Native `Array(T)` data as JSON text (Flow's json type).
///
/// Elements: integers and decimals as JSON numbers (64-bit values unquoted), floats as numbers with
/// NaN and ±Infinity as `null`, Bool as `true`/`false`, String / FixedString (trailing zeros trimmed) /
/// Enum names as JSON strings (`"`, `\` and control bytes escaped, other bytes passed through), UUID as
/// its text, Date as `"YYYY-MM-DD"`, DateTime / DateTime64 as `"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"`,
/// Nullable NULL as `null`, nested arrays recursively.
struct NativeArrayJSON {
    let policy: ClickHouseTypePolicy

    struct Failure: Error { let message: String }

    /// The elements of a block's array column, borrowing the block's bytes.
    indirect enum Elements {
        case fixed(ClickHouseType, UnsafeRawBufferPointer, width: Int)
        /// Element i is `data[bounds[2i] ..< bounds[2i+1]]`.
        case strings(UnsafeRawBufferPointer, bounds: [Int])
        case enumeration(EnumNames, UnsafeRawBufferPointer, width: Int)
        case nullable(UnsafeRawBufferPointer, Elements)
        case array(UnsafeRawBufferPointer, Elements)
    }

    /// Reads `count` elements of `type` from `r`.
    func read(_ type: ClickHouseType, count: Int, _ r: inout ByteReader) throws -> Elements {
        switch type {
        case .nullable(let inner):
            let map = try r.take(count)
            return .nullable(map, try read(inner, count: count, &r))
        case .array(let inner):
            // Every offset is checked once here (not decreasing, within Int32), so `append` can index
            // the inner elements by any of them: the last is their count.
            let offsets = try r.take(count * 8)
            var total = 0
            for k in 0..<count {
                let offset = Int(truncatingIfNeeded: offsets.le(UInt64.self, at: 8 * k))
                guard offset >= total, offset <= Int(Int32.max) else { throw NativeColumnScanner.malformed("array offsets") }
                total = offset
            }
            return .array(offsets, try read(inner, count: total, &r))
        case .string:
            var bounds: [Int] = []
            bounds.reserveCapacity(2 * count)
            for _ in 0..<count {
                let s = try r.string()
                bounds.append(r.offset - s.count)
                bounds.append(r.offset)
            }
            return .strings(r.bytes, bounds: bounds)
        case .enum8(let cases), .enum16(let cases):
            let w = NativeColumnScanner.fixedWidth(of: type)!
            return .enumeration(EnumNames(cases), try r.take(count * w), width: w)
        default:
            guard let w = NativeColumnScanner.fixedWidth(of: type) else {
                throw NativeColumnScanner.malformed("arrays of \(type.name)")
            }
            return .fixed(type, try r.take(count * w), width: w)
        }
    }

    /// Appends `[e, e, ...]` for the elements in `range`.
    func appendArray(_ elements: Elements, _ range: Range<Int>, to out: inout [UInt8]) throws(Failure) {
        out.append(UInt8(ascii: "["))
        for i in range {
            if i > range.lowerBound { out.append(UInt8(ascii: ",")) }
            try append(elements, i, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    private func append(_ elements: Elements, _ i: Int, to out: inout [UInt8]) throws(Failure) {
        switch elements {
        case .nullable(let map, let inner):
            if map[i] != 0 { out.append(contentsOf: "null".utf8) } else { try append(inner, i, to: &out) }
        case .array(let offsets, let inner):
            // `read` checked the offsets: not decreasing and at most the inner count.
            let start = i == 0 ? 0 : Int(truncatingIfNeeded: offsets.le(UInt64.self, at: 8 * (i - 1)))
            let end = Int(truncatingIfNeeded: offsets.le(UInt64.self, at: 8 * i))
            try appendArray(inner, start..<end, to: &out)
        case .strings(let data, let bounds):
            Self.appendJSONString(UnsafeRawBufferPointer(rebasing: data[bounds[2 * i]..<bounds[2 * i + 1]]), to: &out)
        case .enumeration(let names, let data, let w):
            let v = w == 1 ? Int(Int8(bitPattern: data[i])) : Int(data.le(Int16.self, at: 2 * i))
            guard let k = names.index(of: v) else { throw Failure(message: "\(v) is not a case of the array's Enum") }
            names.names[k].withUnsafeBytes { Self.appendJSONString($0, to: &out) }
        case .fixed(let type, let d, let w):
            try appendScalar(type, d, i, w, to: &out)
        }
    }

    private func appendScalar(
        _ type: ClickHouseType, _ d: UnsafeRawBufferPointer, _ i: Int, _ w: Int, to out: inout [UInt8]
    ) throws(Failure) {
        switch type {
        case .int8: ScalarFormatting.appendInt(Int64(Int8(bitPattern: d[i])), to: &out)
        case .int16: ScalarFormatting.appendInt(Int64(d.le(Int16.self, at: 2 * i)), to: &out)
        case .int32: ScalarFormatting.appendInt(Int64(d.le(Int32.self, at: 4 * i)), to: &out)
        case .int64: ScalarFormatting.appendInt(d.le(Int64.self, at: 8 * i), to: &out)
        case .uint8: ScalarFormatting.appendUnsigned(UInt64(d[i]), to: &out)
        case .uint16: ScalarFormatting.appendUnsigned(UInt64(d.le(UInt16.self, at: 2 * i)), to: &out)
        case .uint32: ScalarFormatting.appendUnsigned(UInt64(d.le(UInt32.self, at: 4 * i)), to: &out)
        case .uint64: ScalarFormatting.appendUnsigned(d.le(UInt64.self, at: 8 * i), to: &out)
        case .float32:
            let v = Float(bitPattern: d.le(UInt32.self, at: 4 * i))
            if v.isFinite { ScalarFormatting.appendFloat(v, to: &out) } else { out.append(contentsOf: "null".utf8) }
        case .float64:
            let v = Double(bitPattern: d.le(UInt64.self, at: 8 * i))
            if v.isFinite { ScalarFormatting.appendDouble(v, to: &out) } else { out.append(contentsOf: "null".utf8) }
        case .decimal(_, let s):
            ScalarFormatting.appendDecimal(NativeColumnDecoder.decimal(d, i, width: w), scale: s, to: &out)
        case .bool: out.append(contentsOf: d[i] != 0 ? "true".utf8 : "false".utf8)
        case .date, .date32:
            let days = type == .date ? Int32(d.le(UInt16.self, at: 2 * i)) : d.le(Int32.self, at: 4 * i)
            out.append(UInt8(ascii: "\""))
            ScalarFormatting.appendDate(days: days, to: &out)
            out.append(UInt8(ascii: "\""))
        case .dateTime:
            appendTimestamp(Int64(d.le(UInt32.self, at: 4 * i)) * CivilCalendar.microsPerSecond, to: &out)
        case .dateTime64(let p, _):
            let ticks = d.le(Int64.self, at: 8 * i)
            guard let micros = NativeColumnDecoder.micros(ticks: ticks, precision: p, policy: policy) else {
                throw Failure(message: "DateTime64(\(p)) value \(ticks) is not a whole microsecond in range")
            }
            appendTimestamp(micros, to: &out)
        case .uuid:
            out.append(UInt8(ascii: "\""))
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buf in
                for k in 0..<8 {
                    buf[k] = d[16 * i + 7 - k]
                    buf[8 + k] = d[16 * i + 15 - k]
                }
                ScalarFormatting.appendUUID(UnsafeRawBufferPointer(buf), to: &out)
            }
            out.append(UInt8(ascii: "\""))
        case .fixedString:
            Self.appendJSONString(NativeColumnDecoder.trimmed(UnsafeRawBufferPointer(rebasing: d[w * i..<w * i + w])), to: &out)
        default:
            throw Failure(message: "arrays of \(type.name) are not supported")
        }
    }

    private func appendTimestamp(_ micros: Int64, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        ScalarFormatting.appendTimestamp(micros: micros, withTimeZone: true, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// `"…"` with `"`, `\` and bytes below 0x20 escaped.
    static func appendJSONString(_ s: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in s {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 15)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
