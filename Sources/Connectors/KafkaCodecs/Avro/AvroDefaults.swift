/// Turns a field default (JSON, as in the reader's schema) into the binary encoding of the field's
/// type, once when the decoder is built; the decoder then reads it like writer data, so defaults
/// and payload values go through the same conversions.
enum AvroDefaults {
    static func encode(_ json: AvroJSON, as type: AvroType, in schema: AvroSchema, to out: inout [UInt8], depth: Int = 0) throws {
        guard depth < 64 else { throw CodecError("default nests too deeply") }
        let t = try schema.resolve(type)
        func mismatch() -> CodecError { CodecError("default \(json.text) is not a valid \(t.kindName)") }
        switch t {
        case .null:
            guard case .null = json else { throw mismatch() }
        case .boolean:
            guard case .bool(let b) = json else { throw mismatch() }
            out.append(b ? 1 : 0)
        case .int:
            guard case .number(let n) = json, let v = Int32(n) else { throw mismatch() }
            AvroBinaryWriter.writeLong(Int64(v), to: &out)
        case .long:
            guard case .number(let n) = json, let v = Int64(n) else { throw mismatch() }
            AvroBinaryWriter.writeLong(v, to: &out)
        case .float:
            guard let v = number(json) else { throw mismatch() }
            AvroBinaryWriter.writeFloat(Float(v), to: &out)
        case .double:
            guard let v = number(json) else { throw mismatch() }
            AvroBinaryWriter.writeDouble(v, to: &out)
        case .string:
            guard case .string(let s) = json else { throw mismatch() }
            Array(s.utf8).withUnsafeBytes { AvroBinaryWriter.writeBytes($0, to: &out) }
        case .bytes:
            guard let b = byteString(json) else { throw mismatch() }
            b.withUnsafeBytes { AvroBinaryWriter.writeBytes($0, to: &out) }
        case .fixed(let f):
            guard let b = byteString(json), b.count == f.size else { throw mismatch() }
            out.append(contentsOf: b)
        case .enumeration(let e):
            guard case .string(let s) = json, let i = e.symbols.firstIndex(of: s) else { throw mismatch() }
            AvroBinaryWriter.writeLong(Int64(i), to: &out)
        case .array(let items):
            guard case .array(let values) = json else { throw mismatch() }
            if !values.isEmpty {
                AvroBinaryWriter.writeLong(Int64(values.count), to: &out)
                for v in values { try encode(v, as: items, in: schema, to: &out, depth: depth + 1) }
            }
            out.append(0)
        case .map(let valueType):
            guard case .object(let members) = json else { throw mismatch() }
            if !members.isEmpty {
                AvroBinaryWriter.writeLong(Int64(members.count), to: &out)
                for m in members {
                    Array(m.key.utf8).withUnsafeBytes { AvroBinaryWriter.writeBytes($0, to: &out) }
                    try encode(m.value, as: valueType, in: schema, to: &out, depth: depth + 1)
                }
            }
            out.append(0)
        case .record(let r):
            guard case .object = json else { throw mismatch() }
            for f in r.fields {
                guard let v = json[f.name] ?? f.defaultValue else {
                    throw CodecError("default of record \(r.name) lacks field \(f.name)")
                }
                try encode(v, as: f.type, in: schema, to: &out, depth: depth + 1)
            }
        case .union(let branches):
            // The spec: a union's default is a value of its first branch.
            guard let first = branches.first else { throw mismatch() }
            out.append(0)
            try encode(json, as: first, in: schema, to: &out, depth: depth + 1)
        case .logical(_, let base):
            try encode(json, as: base, in: schema, to: &out, depth: depth + 1)
        case .reference:
            throw mismatch()
        }
    }

    private static func number(_ json: AvroJSON) -> Double? {
        switch json {
        case .number(let n): Double(n)
        case .string("NaN"): .nan
        case .string("Infinity"): .infinity
        case .string("-Infinity"): -.infinity
        default: nil
        }
    }

    /// Bytes defaults are JSON strings whose code points 0–255 are the bytes.
    private static func byteString(_ json: AvroJSON) -> [UInt8]? {
        guard case .string(let s) = json else { return nil }
        var out: [UInt8] = []
        for u in s.unicodeScalars {
            guard u.value <= 255 else { return nil }
            out.append(UInt8(u.value))
        }
        return out
    }
}
