import Flow

/// Runs resolved nodes over a payload: into a column builder, into JSON text, or past it.
struct AvroProgram: Sendable {
    let records: [AvroRecordPlan]

    /// Appends one value of `node` to `column`. Nulls become SQL NULL; a json column receives the
    /// value's JSON text (built in `scratch`, reused across values).
    func append(_ node: AvroNode, _ c: inout AvroCursor, to column: inout ColumnBuilder, scratch: inout [UInt8]) throws {
        switch node {
        case .null:
            column.appendNull()
        case .union(let branches, let names):
            try append(try branch(branches, names, &c), &c, to: &column, scratch: &scratch)
        case .scalar(let plan) where column.type != .json:
            try column.append(try plan.read(&c), plan: plan)
        default:
            scratch.removeAll(keepingCapacity: true)
            try render(node, &c, &scratch)
            column.append(bytes: scratch)
        }
    }

    /// Reads a union's branch index and returns the branch's node.
    @inline(__always)
    private func branch(_ branches: [AvroNode?], _ names: [String], _ c: inout AvroCursor) throws -> AvroNode {
        let i = try c.readLong()
        guard i >= 0, i < Int64(branches.count) else {
            throw CodecError("union index \(i) is outside the writer's \(branches.count) branches")
        }
        guard let n = branches[Int(i)] else {
            throw CodecError("union branch \(i) (\(names[Int(i)])) does not match the reader's schema")
        }
        return n
    }

    /// Appends the value as JSON (see AVRO.md for the rules).
    func render(_ node: AvroNode, _ c: inout AvroCursor, _ out: inout [UInt8]) throws {
        switch node {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .scalar(let plan):
            Self.render(try plan.read(&c), plan: plan, &out)
        case .union(let branches, let names):
            try render(try branch(branches, names, &c), &c, &out)
        case .array(let item):
            try c.enter()
            defer { c.leave() }
            out.append(UInt8(ascii: "["))
            var index = 0
            while true {
                let (count, _) = try c.readBlockHeader()
                if count == 0 { break }
                for _ in 0..<count {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    do { try render(item, &c, &out) } catch let e as CodecError { throw e.within("[\(index)]") }
                    index += 1
                }
            }
            out.append(UInt8(ascii: "]"))
        case .map(let value):
            try c.enter()
            defer { c.leave() }
            out.append(UInt8(ascii: "{"))
            var first = true
            while true {
                let (count, _) = try c.readBlockHeader()
                if count == 0 { break }
                for _ in 0..<count {
                    let key = try c.readBytes()
                    guard AvroText.isValidUTF8(key) else { throw CodecError("map key is not valid UTF-8") }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    JSONText.appendString(key, to: &out)
                    out.append(UInt8(ascii: ":"))
                    do { try render(value, &c, &out) } catch let e as CodecError {
                        throw e.within("[\"\(String(decoding: key, as: UTF8.self))\"]")
                    }
                }
            }
            out.append(UInt8(ascii: "}"))
        case .record(let index):
            try c.enter()
            defer { c.leave() }
            let plan = records[index]
            out.append(UInt8(ascii: "{"))
            var first = true
            for step in plan.steps {
                do {
                    guard step.keep else { try skip(step.node, &c); continue }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    out.append(contentsOf: step.key)
                    try render(step.node, &c, &out)
                } catch let e as CodecError { throw e.within(step.name) }
            }
            for d in plan.defaults {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(contentsOf: d.key)
                try d.bytes.withUnsafeBytes { raw in
                    var dc = AvroCursor(raw)
                    dc.depth = c.depth
                    try render(d.node, &dc, &out)
                }
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Reads past a value the reader does not keep; blocks with a byte size are jumped over whole.
    func skip(_ node: AvroNode, _ c: inout AvroCursor) throws {
        switch node {
        case .null: break
        case .scalar(let plan): try plan.skip(&c)
        case .union(let branches, let names): try skip(try branch(branches, names, &c), &c)
        case .array(let item), .map(let item):
            try c.enter()
            defer { c.leave() }
            let isMap = if case .map = node { true } else { false }
            while true {
                let (count, size) = try c.readBlockHeader()
                if count == 0 { break }
                if let size { try c.skip(size); continue }
                for _ in 0..<count {
                    if isMap { _ = try c.readBytes() }
                    try skip(item, &c)
                }
            }
        case .record(let index):
            try c.enter()
            defer { c.leave() }
            for step in records[index].steps {
                do { try skip(step.node, &c) } catch let e as CodecError { throw e.within(step.name) }
            }
        }
    }

    /// One scalar as JSON: numbers bare (non-finite floats as the strings "NaN", "Infinity",
    /// "-Infinity"), bytes as base64 strings, temporal values, decimals and uuids as their
    /// canonical text in strings.
    static func render(_ s: AvroScalar, plan: AvroScalarPlan, _ out: inout [UInt8]) {
        func quoted(_ body: (inout [UInt8]) -> Void) {
            out.append(UInt8(ascii: "\""))
            body(&out)
            out.append(UInt8(ascii: "\""))
        }
        switch s {
        case .bool(let b): ScalarFormatting.appendBool(b, to: &out)
        case .int(let v): ScalarFormatting.appendInt(v, to: &out)
        case .float(let f):
            if f.isFinite { ScalarFormatting.appendFloat(f, to: &out) } else { nonFinite(Double(f), &out) }
        case .double(let d):
            if d.isFinite { ScalarFormatting.appendDouble(d, to: &out) } else { nonFinite(d, &out) }
        case .text(let raw): JSONText.appendString(raw, to: &out)
        case .bytes(let raw): quoted { AvroText.appendBase64(raw, to: &$0) }
        case .date(let d): quoted { ScalarFormatting.appendDate(days: d, to: &$0) }
        case .time(let t): quoted { ScalarFormatting.appendTime(micros: t, to: &$0) }
        case .timestamp(let t, let tz): quoted { ScalarFormatting.appendTimestamp(micros: t, withTimeZone: tz, to: &$0) }
        case .decimal(let v, let scale): quoted { ScalarFormatting.appendDecimal(v, scale: scale, to: &$0) }
        case .uuid(let u): quoted { o in withUnsafeBytes(of: u.bigEndian) { ScalarFormatting.appendUUID($0, to: &o) } }
        case .symbol(let i):
            if case .symbol(let names) = plan.target {
                names[i].withUnsafeBytes { JSONText.appendString($0, to: &out) }
            }
        }
    }

    private static func nonFinite(_ d: Double, _ out: inout [UInt8]) {
        out.append(contentsOf: (d.isNaN ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"").utf8)
    }
}
