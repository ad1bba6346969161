import Flow

/// Reading one scalar value off the wire, into a column builder or as JSON text. Both read the
/// same bytes the scan already bounds-checked, so the only errors left are semantic ones
/// (invalid UTF-8, timestamps out of range).
enum ProtoScalarValues {
    /// The Flow type a top-level scalar field becomes.
    static func logicalType(_ s: ProtoScalar) -> LogicalType {
        switch s {
        case .int32, .sint32, .sfixed32: .int32
        case .int64, .sint64, .sfixed64, .uint32, .fixed32: .int64
        case .uint64, .fixed64: .decimal(precision: 20, scale: 0)
        case .bool: .bool
        case .float: .float32
        case .double: .float64
        case .string: .string
        case .bytes: .bytes
        }
    }

    /// Appends the value `r` is positioned at (one element, not a packed run).
    static func append(_ s: ProtoScalar, _ r: inout ProtoWireReader, to c: inout ColumnBuilder) throws {
        switch s {
        case .int32: c.append(Int32(truncatingIfNeeded: try r.varint()))
        case .sint32: c.append(ProtoWire.unzigzag32(try r.varint()))
        case .sfixed32: c.append(Int32(bitPattern: try r.fixed32()))
        case .int64: c.append(Int64(bitPattern: try r.varint()))
        case .sint64: c.append(ProtoWire.unzigzag64(try r.varint()))
        case .sfixed64: c.append(Int64(bitPattern: try r.fixed64()))
        case .uint32: c.append(Int64(UInt32(truncatingIfNeeded: try r.varint())))
        case .fixed32: c.append(Int64(try r.fixed32()))
        case .uint64: c.append(Int128(try r.varint()))
        case .fixed64: c.append(Int128(try r.fixed64()))
        case .bool: c.append(try r.varint() != 0)
        case .float: c.append(Float(bitPattern: try r.fixed32()))
        case .double: c.append(Double(bitPattern: try r.fixed64()))
        case .string, .bytes:
            let body = UnsafeRawBufferPointer(rebasing: r.bytes[r.at..<r.end])
            if s == .string && !JSONText.isValidUTF8(body) { throw CodecError("invalid UTF-8 in string") }
            c.append(bytes: body)
            r.at = r.end
        }
    }

    /// Appends the proto3 default of `s` (the value of an absent field without presence).
    static func appendDefault(_ s: ProtoScalar, to c: inout ColumnBuilder) {
        switch s {
        case .int32, .sint32, .sfixed32: c.append(Int32(0))
        case .int64, .sint64, .sfixed64, .uint32, .fixed32: c.append(Int64(0))
        case .uint64, .fixed64: c.append(Int128(0))
        case .bool: c.append(false)
        case .float: c.append(Float(0))
        case .double: c.append(Double(0))
        case .string, .bytes: c.append(bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Writes the value `r` is positioned at as proto3 JSON: 64-bit integers as strings, bytes
    /// as base64, non-finite floats as `"NaN"` / `"Infinity"`.
    static func appendJSON(_ s: ProtoScalar, _ r: inout ProtoWireReader, to out: inout [UInt8]) throws {
        switch s {
        case .int32: ScalarFormatting.appendInt(Int64(Int32(truncatingIfNeeded: try r.varint())), to: &out)
        case .sint32: ScalarFormatting.appendInt(Int64(ProtoWire.unzigzag32(try r.varint())), to: &out)
        case .sfixed32: ScalarFormatting.appendInt(Int64(Int32(bitPattern: try r.fixed32())), to: &out)
        case .uint32: ScalarFormatting.appendUnsigned(UInt64(UInt32(truncatingIfNeeded: try r.varint())), to: &out)
        case .fixed32: ScalarFormatting.appendUnsigned(UInt64(try r.fixed32()), to: &out)
        case .int64, .sint64, .sfixed64, .uint64, .fixed64:
            out.append(UInt8(ascii: "\""))
            switch s {
            case .int64: ScalarFormatting.appendInt(Int64(bitPattern: try r.varint()), to: &out)
            case .sint64: ScalarFormatting.appendInt(ProtoWire.unzigzag64(try r.varint()), to: &out)
            case .sfixed64: ScalarFormatting.appendInt(Int64(bitPattern: try r.fixed64()), to: &out)
            case .uint64: ScalarFormatting.appendUnsigned(try r.varint(), to: &out)
            default: ScalarFormatting.appendUnsigned(try r.fixed64(), to: &out)
            }
            out.append(UInt8(ascii: "\""))
        case .bool: ScalarFormatting.appendBool(try r.varint() != 0, to: &out)
        case .float: JSONText.appendFloat(Float(bitPattern: try r.fixed32()), to: &out)
        case .double: JSONText.appendDouble(Double(bitPattern: try r.fixed64()), to: &out)
        case .string:
            let body = UnsafeRawBufferPointer(rebasing: r.bytes[r.at..<r.end])
            guard JSONText.isValidUTF8(body) else { throw CodecError("invalid UTF-8 in string") }
            JSONText.appendString(body, to: &out)
            r.at = r.end
        case .bytes:
            JSONText.appendBase64String(UnsafeRawBufferPointer(rebasing: r.bytes[r.at..<r.end]), to: &out)
            r.at = r.end
        }
    }

    /// The proto3 default of `s` as JSON (a map entry without its value).
    static func defaultJSON(_ s: ProtoScalar) -> String {
        switch s {
        case .int64, .sint64, .sfixed64, .uint64, .fixed64: "\"0\""
        case .bool: "false"
        case .float, .double: "0.0"
        case .string, .bytes: "\"\""
        default: "0"
        }
    }

    /// Whether the occurrence holds the default value (zero bits, or an empty record): proto3
    /// JSON leaves such fields out when they have no presence.
    static func isDefault(_ scan: ProtoScan, _ k: Int32) throws -> Bool {
        let o = scan.occurrences[Int(k)]
        switch o.wire {
        case .varint:
            var r = scan.reader(k)
            return try r.varint() == 0
        case .lengthDelimited: return o.start == o.end
        default:
            for b in scan.value(k) where b != 0 { return false }
            return true
        }
    }
}

/// `google.protobuf.Timestamp`: seconds since the epoch (field 1) and nanoseconds (field 2),
/// restricted to years 0001 ... 9999 as the type's definition says.
enum ProtoTimestamp {
    static let minSeconds: Int64 = -62_135_596_800
    static let maxSeconds: Int64 = 253_402_300_799

    static func read(_ bytes: UnsafeRawBufferPointer) throws -> (seconds: Int64, nanos: Int32) {
        var r = ProtoWireReader(bytes)
        var seconds: Int64 = 0
        var nanos: Int32 = 0
        while !r.isAtEnd {
            let (number, wire) = try r.tag()
            if number == 1 || number == 2 {
                let name = number == 1 ? "seconds" : "nanos"
                guard wire == .varint else {
                    throw CodecError("wire type \(wire.rawValue) does not fit a timestamp's \(name) (wire type 0)", path: name)
                }
                do {
                    let v = try r.varint()
                    if number == 1 { seconds = Int64(bitPattern: v) } else { nanos = Int32(truncatingIfNeeded: v) }
                } catch {
                    throw error.within(name)
                }
            } else {
                try r.skip(wire, number: number)
            }
        }
        guard (0...999_999_999).contains(nanos) else { throw CodecError("timestamp nanos \(nanos) out of range", path: "nanos") }
        guard (minSeconds...maxSeconds).contains(seconds) else {
            throw CodecError("timestamp seconds \(seconds) outside years 0001...9999", path: "seconds")
        }
        return (seconds, nanos)
    }

    /// Microseconds since the epoch (nanoseconds truncated; in range by the checks in `read`).
    static func micros(_ t: (seconds: Int64, nanos: Int32)) -> Int64 {
        t.seconds * 1_000_000 + Int64(t.nanos / 1000)
    }

    /// RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, as proto3 JSON writes timestamps.
    static func appendJSON(_ t: (seconds: Int64, nanos: Int32), to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let (days, secondOfDay) = CivilCalendar.floorDivMod(t.seconds, 86_400)
        ScalarFormatting.appendDate(days: Int32(truncatingIfNeeded: days), to: &out)
        out.append(UInt8(ascii: "T"))
        ScalarFormatting.appendTime(micros: secondOfDay * 1_000_000, to: &out)
        if t.nanos != 0 {
            var digits = 9
            var value = Int(t.nanos)
            if value % 1_000_000 == 0 {
                digits = 3
                value /= 1_000_000
            } else if value % 1000 == 0 {
                digits = 6
                value /= 1000
            }
            out.append(UInt8(ascii: "."))
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor))
                value %= divisor
                divisor /= 10
            }
        }
        out.append(contentsOf: "Z\"".utf8)
    }
}
