import Flow

/// Reading one scalar and converting it to the reader's meaning: promotions, time units, decimal
/// rescaling, UTF-8 and uuid checks. Every check on untrusted bytes throws; nothing traps.
extension AvroScalarPlan {
    @inline(__always)
    func read(_ c: inout AvroCursor) throws -> AvroScalar {
        switch source {
        case .boolean:
            return .bool(try c.readBoolean())
        case .int, .long:
            let v = source == .int ? Int64(try c.readInt()) : try c.readLong()
            return try integer(v)
        case .float:
            let f = try c.readFloat()
            return target == .float64 ? .double(Double(f)) : .float(f)
        case .double:
            return .double(try c.readDouble())
        case .bytes:
            return try bytes(try c.readBytes())
        case .fixed(let n):
            return try bytes(try c.readFixed(n))
        case .enumeration(let mapping):
            let i = try c.readLong()
            guard i >= 0, i < Int64(mapping.count) else {
                throw CodecError("enum index \(i) is outside the writer's \(mapping.count) symbols")
            }
            let r = mapping[Int(i)]
            guard r >= 0 else { throw CodecError("enum symbol \(i) of the writer is unknown to the reader") }
            return .symbol(r)
        }
    }

    /// Skips the scalar without converting it.
    @inline(__always)
    func skip(_ c: inout AvroCursor) throws {
        switch source {
        case .boolean: _ = try c.readBoolean()
        case .int, .long, .enumeration: _ = try c.readLong()
        case .float: try c.skip(4)
        case .double: try c.skip(8)
        case .bytes: _ = try c.readBytes()
        case .fixed(let n): try c.skip(n)
        }
    }

    private func integer(_ v: Int64) throws -> AvroScalar {
        switch target {
        case .float32: return .float(Float(v))
        case .float64: return .double(Double(v))
        case .date: return .date(Int32(truncatingIfNeeded: v))  // only an Avro int reaches a date
        case .time(let m):
            let (t, overflow) = v.multipliedReportingOverflow(by: m)
            guard !overflow, t >= 0, t < CivilCalendar.microsPerDay else {
                throw CodecError("time of day \(v) is outside one day")
            }
            return .time(t)
        case .timestamp(let m, let tz):
            let (t, overflow) = v.multipliedReportingOverflow(by: m)
            guard !overflow else { throw CodecError("timestamp \(v) overflows microseconds") }
            return .timestamp(t, withTimeZone: tz)
        default: return .int(v)
        }
    }

    private func bytes(_ raw: UnsafeRawBufferPointer) throws -> AvroScalar {
        switch target {
        case .text:
            guard AvroText.isValidUTF8(raw) else { throw CodecError("string is not valid UTF-8") }
            return .text(raw)
        case .decimal(let from, let to, let precision):
            let unscaled = try AvroText.decimal(raw)
            guard let v = DecimalMath.rescale(unscaled, from: from, to: to) else {
                throw CodecError("decimal at scale \(from) does not fit scale \(to)")
            }
            guard DecimalMath.fits(v, precision: precision) else {
                throw CodecError("decimal overflow: more than \(precision) digits")
            }
            return .decimal(v, scale: to)
        case .uuidText:
            guard let u = AvroText.parseUUID(raw) else { throw CodecError("string is not a uuid") }
            return .uuid(u)
        case .uuidRaw:
            guard raw.count == 16 else { throw CodecError("uuid is not 16 bytes") }
            var u: UInt128 = 0
            for b in raw { u = u << 8 | UInt128(b) }
            return .uuid(u)
        default:
            return .bytes(raw)
        }
    }
}

extension ColumnBuilder {
    /// Appends a decoded scalar; the column type comes from the same reader schema as the plan.
    @inline(__always)
    mutating func append(_ s: AvroScalar, plan: AvroScalarPlan) throws {
        switch (s, physical) {
        case (.bool(let b), .bool): append(b)
        case (.int(let v), .int32):
            guard let x = Int32(exactly: v) else { throw CodecError("value \(v) does not fit int32") }
            append(x)
        case (.int(let v), .int64), (.time(let v), .int64), (.timestamp(let v, _), .int64): append(v)
        case (.float(let f), .float32): append(f)
        case (.double(let d), .float64): append(d)
        case (.text(let raw), .variable), (.bytes(let raw), .variable): append(bytes: raw)
        case (.date(let d), .int32): append(d)
        case (.decimal(let v, _), .int128):
            guard case .decimal(let p, _) = type, DecimalMath.fits(v, precision: p) else {
                throw CodecError("decimal overflow for \(type)")
            }
            append(v)
        case (.uuid(let u), .fixed16):
            withUnsafeBytes(of: u.bigEndian) { append(bytes: $0) }
        case (.symbol(let i), .variable):
            guard case .symbol(let names) = plan.target else { throw CodecError("enum without symbols") }
            names[i].withUnsafeBytes { append(bytes: $0) }
        default:
            throw CodecError("a decoded value does not fit column type \(type)")
        }
    }
}

/// Byte-level checks and text forms used by the decoder.
enum AvroText {
    /// Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
    static func isValidUTF8(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            let len: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: len = 2
            case 0xE0: len = 3; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: len = 3
            case 0xED: len = 3; hi = 0x9F
            case 0xF0: len = 4; lo = 0x90
            case 0xF1...0xF3: len = 4
            case 0xF4: len = 4; hi = 0x8F
            default: return false
            }
            guard i + len <= n, b[i + 1] >= lo, b[i + 1] <= hi else { return false }
            for k in 2..<max(len, 2) where b[i + k] & 0xC0 != 0x80 { return false }
            i += len
        }
        return true
    }

    /// A big-endian two's-complement integer of any length, if it fits Int128.
    static func decimal(_ raw: UnsafeRawBufferPointer) throws -> Int128 {
        guard let first = raw.first else { throw CodecError("decimal has no bytes") }
        let negative = first & 0x80 != 0
        let extra = raw.count - 16
        if extra > 0 {
            // Leading bytes beyond 16 may only repeat the sign.
            let pad: UInt8 = negative ? 0xFF : 0
            for k in 0..<extra where raw[k] != pad { throw CodecError("decimal overflow: more than 128 bits") }
            guard (raw[extra] & 0x80 != 0) == negative else { throw CodecError("decimal overflow: more than 128 bits") }
        }
        var bits: UInt128 = negative ? ~0 : 0
        for b in raw.dropFirst(max(extra, 0)) { bits = bits << 8 | UInt128(b) }
        return Int128(bitPattern: bits)
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (either case) as 128 bits, or nil.
    static func parseUUID(_ raw: UnsafeRawBufferPointer) -> UInt128? {
        guard raw.count == 36 else { return nil }
        var u: UInt128 = 0
        for (i, c) in raw.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            u = u << 4 | UInt128(d)
        }
        return u
    }

    /// Standard base64 (RFC 4648 §4) with `=` padding.
    static func appendBase64(_ raw: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        ScalarFormatting.appendBase64(raw, to: &out)
    }
}
