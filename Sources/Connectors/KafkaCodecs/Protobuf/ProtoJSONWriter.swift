import Flow

/// Renders protobuf values that have no flat column (messages, repeated fields, maps, oneofs) as
/// proto3-JSON-style text, straight from the wire bytes. See PROTOBUF.md for the exact rules.
struct ProtoJSONWriter: Sendable {
    let file: ProtoFile

    /// A message (whose occurrences were merged into `bytes`) as a JSON object.
    func message(_ m: ProtoMessage, _ bytes: UnsafeRawBufferPointer, depth: Int, into out: inout [UInt8]) throws {
        guard depth < ProtoLimits.maxDepth else { throw CodecError("message nested deeper than \(ProtoLimits.maxDepth) levels") }
        try ProtoScan.with(m, bytes) { scan in
            out.append(UInt8(ascii: "{"))
            var first = true
            for (fi, f) in m.fields.enumerated() where scan.heads[fi] >= 0 {
                guard let cutoff = scan.oneofCutoff(field: fi, in: m) else { continue }
                if !f.isRepeated && f.label == .implicit && f.oneof == nil,
                    case .scalar = f.type, try ProtoScalarValues.isDefault(scan, scan.tails[fi])
                {
                    continue
                }
                if !f.isRepeated && f.label == .implicit && f.oneof == nil,
                    case .enumeration = f.type, try ProtoScalarValues.isDefault(scan, scan.tails[fi])
                {
                    continue
                }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONText.appendString(f.name, to: &out)
                out.append(UInt8(ascii: ":"))
                do {
                    try fieldValue(f, fi, scan, cutoff: cutoff, depth: depth, into: &out)
                } catch let e as CodecError {
                    throw e.within(f.name)
                }
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The whole value of field `fi` from its occurrences at or after `cutoff`: an array for a
    /// repeated field, an object for a map, the merged message or the last scalar otherwise.
    /// An absent field writes its empty/default value.
    func fieldValue(_ f: ProtoField, _ fi: Int, _ scan: ProtoScan, cutoff: Int32, depth: Int,
                    into out: inout [UInt8]) throws {
        if f.isMap, case .message(let entry) = f.type {
            try map(file.messages[entry], fi, scan, depth: depth, into: &out)
        } else if f.isRepeated {
            out.append(UInt8(ascii: "["))
            var n = 0
            var k = scan.heads[fi]
            while k >= 0 {
                let o = scan.occurrences[Int(k)]
                var r = scan.reader(k)
                let packed = o.wire == .lengthDelimited && f.type.isPackable
                repeat {
                    if n > 0 { out.append(UInt8(ascii: ",")) }
                    do {
                        if packed || f.type.wireType != .lengthDelimited {
                            try element(f.type, &r, depth: depth, into: &out)
                        } else {
                            try element(f.type, scan.value(k), depth: depth, into: &out)
                            r.at = r.end
                        }
                    } catch let e as CodecError {
                        throw e.within("[\(n)]")
                    }
                    n += 1
                } while packed && !r.isAtEnd
                k = o.next
            }
            out.append(UInt8(ascii: "]"))
        } else if f.type.wireType == .lengthDelimited, case .scalar = f.type {
            var r = scan.reader(scan.tails[fi])
            try element(f.type, &r, depth: depth, into: &out)
        } else if f.type.wireType == .lengthDelimited {
            try merged(fi, scan, cutoff: cutoff) { try element(f.type, $0, depth: depth, into: &out) }
        } else {
            var r = scan.reader(scan.tails[fi])
            try element(f.type, &r, depth: depth, into: &out)
        }
    }

    /// Calls `body` with the occurrences of message field `fi` from `cutoff` on, concatenated:
    /// parsing the concatenation is protobuf's definition of merging them.
    func merged(_ fi: Int, _ scan: ProtoScan, cutoff: Int32, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var k = scan.heads[fi]
        while k >= 0 && k < cutoff { k = scan.occurrences[Int(k)].next }
        guard k >= 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        if scan.occurrences[Int(k)].next < 0 { return try body(scan.value(k)) }
        var joined: [UInt8] = []
        while k >= 0 {
            joined.append(contentsOf: scan.value(k))
            k = scan.occurrences[Int(k)].next
        }
        try joined.withUnsafeBytes { try body($0) }
    }

    /// One value of a length-delimited type (message, timestamp, string, bytes) from its body.
    func element(_ type: ProtoFieldType, _ body: UnsafeRawBufferPointer, depth: Int, into out: inout [UInt8]) throws {
        switch type {
        case .message(let id): try message(file.messages[id], body, depth: depth + 1, into: &out)
        case .timestamp: ProtoTimestamp.appendJSON(try ProtoTimestamp.read(body), to: &out)
        default:
            var r = ProtoWireReader(body)
            try element(type, &r, depth: depth, into: &out)
        }
    }

    /// One value `r` is positioned at; length-delimited types consume the rest of `r`.
    func element(_ type: ProtoFieldType, _ r: inout ProtoWireReader, depth: Int, into out: inout [UInt8]) throws {
        switch type {
        case .scalar(let s): try ProtoScalarValues.appendJSON(s, &r, to: &out)
        case .enumeration(let e):
            let number = Int32(truncatingIfNeeded: try r.varint())
            if let symbol = file.enums[e].symbol(for: number) {
                JSONText.appendString(symbol, to: &out)
            } else {
                ScalarFormatting.appendInt(Int64(number), to: &out)
            }
        case .message, .timestamp:
            let body = UnsafeRawBufferPointer(rebasing: r.bytes[r.at..<r.end])
            r.at = r.end
            try element(type, body, depth: depth, into: &out)
        }
    }

    /// The default of an absent map value.
    func defaultElement(_ type: ProtoFieldType, into out: inout [UInt8]) {
        switch type {
        case .scalar(let s): out.append(contentsOf: ProtoScalarValues.defaultJSON(s).utf8)
        case .enumeration(let e):
            let enumeration = file.enums[e]
            let n = enumeration.defaultNumber
            JSONText.appendString(enumeration.symbol(for: n) ?? "", to: &out)
        case .message: out.append(contentsOf: "{}".utf8)
        case .timestamp: out.append(contentsOf: "\"1970-01-01T00:00:00Z\"".utf8)
        }
    }

    /// A map field as a JSON object: keys as strings, the last entry for a key wins (keeping the
    /// position of that last entry).
    func map(_ entry: ProtoMessage, _ fi: Int, _ scan: ProtoScan, depth: Int, into out: inout [UInt8]) throws {
        guard entry.fields.count == 2 else { throw CodecError("malformed map entry") }
        var keys: [[UInt8]] = []
        var values: [[UInt8]] = []
        var k = scan.heads[fi]
        var n = 0
        while k >= 0 {
            var key: [UInt8] = []
            var value: [UInt8] = []
            do {
                try ProtoScan.with(entry, scan.value(k)) { e in
                    if e.tails[0] >= 0 {
                        var r = e.reader(e.tails[0])
                        do {
                            try element(entry.fields[0].type, &r, depth: depth, into: &key)
                        } catch let error as CodecError {
                            throw error.within("key")
                        }
                    } else {
                        defaultElement(entry.fields[0].type, into: &key)
                    }
                    // JSON object keys are strings: numbers and bools are quoted (64-bit
                    // integers and strings already are).
                    if key.first != UInt8(ascii: "\"") {
                        key.insert(UInt8(ascii: "\""), at: 0)
                        key.append(UInt8(ascii: "\""))
                    }
                    if e.heads[1] >= 0 {
                        do {
                            try fieldValue(entry.fields[1], 1, e, cutoff: 0, depth: depth, into: &value)
                        } catch let error as CodecError {
                            throw error.within("value")
                        }
                    } else {
                        defaultElement(entry.fields[1].type, into: &value)
                    }
                }
            } catch let e as CodecError {
                throw e.within("[\(n)]")
            }
            keys.append(key)
            values.append(value)
            k = scan.occurrences[Int(k)].next
            n += 1
        }
        var seen = Set<[UInt8]>()
        var keep = [Bool](repeating: false, count: keys.count)
        for i in keys.indices.reversed() where seen.insert(keys[i]).inserted { keep[i] = true }
        out.append(UInt8(ascii: "{"))
        var first = true
        for i in keys.indices where keep[i] {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: keys[i])
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: values[i])
        }
        out.append(UInt8(ascii: "}"))
    }
}
