import Flow

/// Which casts exist and how each converts a column. `Cast.supports(from:to:)` and `CastJob.run()`
/// MUST agree: the first is checked when the graph is built, the second runs per batch.
extension Cast {
    /// Whether a column of type `from` can be cast to `to` (some values may still be lossy).
    public static func supports(from: LogicalType, to: LogicalType) -> Bool {
        if from == to { return true }
        switch (from, to) {
        case (.int16 , .int16), (.int16, .int32), (.int16, .int64), (.int32, .int16), (.int32, .int32),
            (.int32, .int64), (.int64, .int16), (.int64, .int32), (.int64, .int64):
            return true
        case (.int16, .float32), (.int16, .float64), (.int32, .float32), (.int32, .float64), (.int64, .float32),
            (.int64, .float64), (.float32, .float64), (.float64, .float32):
            return true
        case (.float32, .int16), (.float32, .int32), (.float32, .int64), (.float64, .int16), (.float64, .int32),
            (.float64, .int64):
            return true
        case (.int16, .decimal), (.int32, .decimal), (.int64, .decimal), (.float32, .decimal), (.float64, .decimal),
            (.decimal, .decimal), (.decimal, .int16), (.decimal, .int32), (.decimal, .int64), (.decimal, .float32),
            (.decimal, .float64):
            return true
        case (_, .string):
            return true
        case (.string, .int16), (.string, .int32), (.string, .int64), (.string, .float32), (.string, .float64),
            (.string, .decimal), (.string, .bool), (.string, .date), (.string, .time), (.string, .timestamp),
            (.string, .uuid), (.string, .bytes), (.json, .bytes):
            return true
        case (.timestamp, .timestamp), (.date, .timestamp):
            return true
        case (.int16, .numeric), (.int32, .numeric), (.int64, .numeric), (.decimal, .numeric), (.string, .numeric),
            (.numeric, .decimal), (.numeric, .float32), (.numeric, .float64):
            return true
        case (.list, .json):
            return true
        default:
            return false
        }
    }
}

extension CastJob {
    func run() throws -> Column {
        if source.type == target { return source }
        switch target {
        case .int16: return try toInteger(Int16.self)
        case .int32: return try toInteger(Int32.self)
        case .int64: return try toInteger(Int64.self)
        case .float32: return try toFloat(Float.self)
        case .float64: return try toFloat(Double.self)
        case .decimal(let p, let s): return try toDecimal(precision: p, scale: s)
        case .string: return try toString()
        case .bytes: return retyped()
        case .bool:
            guard case .variable(let o, let b) = source.values else { break }
            return try parse(o, b, reason: "not a boolean", ScalarParsing.bool)
        case .date:
            guard case .variable(let o, let b) = source.values else { break }
            return try parse(o, b, reason: "not a date (YYYY-MM-DD)", ScalarParsing.date)
        case .time:
            guard case .variable(let o, let b) = source.values else { break }
            return try parse(o, b, reason: "not a time (HH:MM:SS[.ffffff])", ScalarParsing.time)
        case .timestamp: return try toTimestamp()
        case .uuid:
            guard case .variable(let o, let b) = source.values else { break }
            return try parse(o, b, reason: "not a uuid") { text -> UUIDValue? in
                var value = UUIDValue()
                let ok = withUnsafeMutableBytes(of: &value.bytes) { ScalarParsing.uuid(text, into: $0) }
                return ok ? value : nil
            }
        case .numeric: return try toNumeric()
        case .json:
            if case .list = source.type { return retyped() }  // the same JSON text
        case .list:
            break
        }
        throw DponeError(.internal, "no cast kernel from \(source.type) to \(target) for column '\(columnName)'")
    }

    /// Integers and decimals as their exact text; strings checked and made canonical (`NumericText`).
    private func toNumeric() throws -> Column {
        switch (source.type, source.values) {
        case (_, .int16(let a)): return try format(a) { v, out in ScalarFormatting.appendInt(Int64(v), to: &out); return true }
        case (_, .int32(let a)): return try format(a) { v, out in ScalarFormatting.appendInt(Int64(v), to: &out); return true }
        case (_, .int64(let a)): return try format(a) { v, out in ScalarFormatting.appendInt(v, to: &out); return true }
        case (.decimal(_, let scale), .int128(let a)):
            return try format(a) { v, out in ScalarFormatting.appendDecimal(v, scale: scale, to: &out); return true }
        case (.string, .variable(let o, let b)):
            return try reparse(o, b, reason: "not an exact decimal ([-]digits[.digits], NaN or Infinity)")
        default:
            throw DponeError(.internal, "no cast kernel from \(source.type) to \(target) for column '\(columnName)'")
        }
    }

    private func toInteger<T: FixedWidthInteger & ColumnAppendable>(_: T.Type) throws -> Column {
        let range = "out of range for \(target)"
        switch source.values {
        case .int16(let a): return try map(a, reason: range) { T(exactly: $0) }
        case .int32(let a): return try map(a, reason: range) { T(exactly: $0) }
        case .int64(let a): return try map(a, reason: range) { T(exactly: $0) }
        case .float32(let a): return try map(a, reason: "not an integer within range of \(target)") { T(exactly: $0) }
        case .float64(let a): return try map(a, reason: "not an integer within range of \(target)") { T(exactly: $0) }
        case .int128(let a):
            guard case .decimal(_, let scale) = source.type else { break }
            return try map(a, reason: "has a fractional part or is out of range for \(target)") { v in
                DecimalMath.rescale(v, from: scale, to: 0).flatMap { T(exactly: $0) }
            }
        case .variable(let o, let b):
            return try parse(o, b, reason: "not an integer within range of \(target)") { text in
                ScalarParsing.int64(text).flatMap { T(exactly: $0) }
            }
        default: break
        }
        throw DponeError(.internal, "no cast kernel from \(source.type) to \(target) for column '\(columnName)'")
    }

    private func toFloat<T: BinaryFloatingPoint & LosslessStringConvertible & ColumnAppendable>(
        _: T.Type
    ) throws -> Column {
        let inexact = "not exactly representable as \(target)"
        /// Correctly rounded straight to `T` (a Float is never rounded twice through Double).
        @inline(__always) func parseFloat(_ text: UnsafeRawBufferPointer) -> T? {
            T.self == Float.self ? ScalarParsing.float(text).map { T($0) } : ScalarParsing.double(text).map { T($0) }
        }
        switch source.values {
        case .int16(let a): return try map(a, reason: inexact) { T(exactly: $0) }
        case .int32(let a): return try map(a, reason: inexact) { T(exactly: $0) }
        case .int64(let a): return try map(a, reason: inexact) { T(exactly: $0) }
        case .float32(let a): return try map(a, reason: "overflows \(target)") { v -> T? in T(v) }
        case .float64(let a):
            // Narrowing rounds to nearest; only overflow to infinity loses the value.
            return try map(a, reason: "overflows \(target)") { v -> T? in
                let r = T(v)
                return r.isFinite || !v.isFinite ? r : nil
            }
        case .int128(let a):
            guard case .decimal(_, let scale) = source.type else { break }
            var text: [UInt8] = []
            return try map(a, reason: "overflows \(target)") { v -> T? in
                // Through text so the result is correctly rounded.
                text.removeAll(keepingCapacity: true)
                ScalarFormatting.appendDecimal(v, scale: scale, to: &text)
                return text.withUnsafeBytes { parseFloat($0) }.flatMap { $0.isFinite ? $0 : nil }
            }
        case .variable(let o, let b):
            return try parse(o, b, reason: "not a number") { parseFloat($0) }
        default: break
        }
        throw DponeError(.internal, "no cast kernel from \(source.type) to \(target) for column '\(columnName)'")
    }

    private func toDecimal(precision: Int, scale: Int) throws -> Column {
        let reason = "does not fit \(target) without losing digits"
        @inline(__always) func fit(_ v: Int128?) -> Int128? {
            guard let v, DecimalMath.fits(v, precision: precision) else { return nil }
            return v
        }
        switch source.values {
        case .int16(let a): return try map(a, reason: reason) { fit(DecimalMath.rescale(Int128($0), from: 0, to: scale)) }
        case .int32(let a): return try map(a, reason: reason) { fit(DecimalMath.rescale(Int128($0), from: 0, to: scale)) }
        case .int64(let a): return try map(a, reason: reason) { fit(DecimalMath.rescale(Int128($0), from: 0, to: scale)) }
        case .float32(let a):
            // The float's shortest round-trip text is the decimal it denotes.
            return try map(a, reason: reason) { v -> Int128? in
                var text = v.description
                return fit(text.withUTF8 { ScalarParsing.decimal(UnsafeRawBufferPointer($0), scale: scale) })
            }
        case .float64(let a):
            return try map(a, reason: reason) { v -> Int128? in
                var text = v.description
                return fit(text.withUTF8 { ScalarParsing.decimal(UnsafeRawBufferPointer($0), scale: scale) })
            }
        case .int128(let a):
            guard case .decimal(_, let from) = source.type else { break }
            return try map(a, reason: reason) { fit(DecimalMath.rescale($0, from: from, to: scale)) }
        case .variable(let o, let b):
            return try parse(o, b, reason: "not a number that fits \(target) without losing digits") {
                fit(ScalarParsing.decimal($0, scale: scale))
            }
        default: break
        }
        throw DponeError(.internal, "no cast kernel from \(source.type) to \(target) for column '\(columnName)'")
    }

    private func toTimestamp() throws -> Column {
        switch (source.type, source.values) {
        case (.timestamp, _):
            return retyped()
        case (.date, .int32(let a)):
            return try map(a, reason: "out of range for \(target)") { days -> Int64? in
                let (r, overflow) = Int64(days).multipliedReportingOverflow(by: CivilCalendar.microsPerDay)
                return overflow ? nil : r
            }
        case (.string, .variable(let o, let b)):
            return try parse(o, b, reason: "not a timestamp (YYYY-MM-DD[THH:MM:SS[.ffffff]][Z|±HH:MM])") {
                ScalarParsing.timestamp($0)?.micros
            }
        default:
            throw DponeError(.internal, "no cast kernel from \(source.type) to \(target) for column '\(columnName)'")
        }
    }

    private func toString() throws -> Column {
        switch (source.type, source.values) {
        case (.bool, .bool(let a)):
            return try format(a) { v, out in ScalarFormatting.appendBool(v, to: &out); return true }
        case (_, .int16(let a)):
            return try format(a) { v, out in ScalarFormatting.appendInt(Int64(v), to: &out); return true }
        case (.date, .int32(let a)):
            return try format(a) { v, out in ScalarFormatting.appendDate(days: v, to: &out); return true }
        case (_, .int32(let a)):
            return try format(a) { v, out in ScalarFormatting.appendInt(Int64(v), to: &out); return true }
        case (.time, .int64(let a)):
            return try format(a, reason: "not a time of day") { v, out in
                guard v >= 0 && v < CivilCalendar.microsPerDay else { return false }
                ScalarFormatting.appendTime(micros: v, to: &out)
                return true
            }
        case (.timestamp(let tz), .int64(let a)):
            return try format(a) { v, out in
                ScalarFormatting.appendTimestamp(micros: v, withTimeZone: tz, to: &out)
                return true
            }
        case (_, .int64(let a)):
            return try format(a) { v, out in ScalarFormatting.appendInt(v, to: &out); return true }
        case (_, .float32(let a)):
            return try format(a) { v, out in ScalarFormatting.appendFloat(v, to: &out); return true }
        case (_, .float64(let a)):
            return try format(a) { v, out in ScalarFormatting.appendDouble(v, to: &out); return true }
        case (.decimal(_, let scale), .int128(let a)):
            return try format(a) { v, out in ScalarFormatting.appendDecimal(v, scale: scale, to: &out); return true }
        case (.bytes, .variable(let o, let b)):
            return try validateUTF8(o, b)
        case (_, .variable):
            return retyped()
        case (.uuid, .fixed16(let bytes)):
            var out = builder()
            var text: [UInt8] = []
            text.reserveCapacity(36)
            bytes.withUnsafeBytes { raw in
                for i in 0..<source.count {
                    if source.isNull(i) {
                        out.appendNull()
                        continue
                    }
                    text.removeAll(keepingCapacity: true)
                    ScalarFormatting.appendUUID(UnsafeRawBufferPointer(rebasing: raw[16 * i..<16 * i + 16]), to: &text)
                    text.withUnsafeBytes { out.append(bytes: $0) }
                }
            }
            return out.finish()
        default:
            throw DponeError(.internal, "no cast kernel from \(source.type) to \(target) for column '\(columnName)'")
        }
    }
}
