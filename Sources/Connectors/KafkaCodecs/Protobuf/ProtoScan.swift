/// One pass over a message's bytes recording where each known field occurs, so that values are
/// decoded once, in declaration order, with protobuf's rules for repeats: the last occurrence of a
/// scalar wins, message occurrences merge, repeated values accumulate.
///
/// Occurrences live in a temporary allocation sized from the payload (every record takes at least
/// two bytes), chained per field: no per-row heap allocation for ordinary payloads.
struct ProtoOccurrence {
    /// The value's bytes: the varint or fixed bytes, or the body of a length-delimited record.
    var start: Int32
    var end: Int32
    /// The next occurrence of the same field, or -1.
    var next: Int32
    var wire: ProtoWireType
}

struct ProtoScan {
    let bytes: UnsafeRawBufferPointer
    let occurrences: UnsafeMutableBufferPointer<ProtoOccurrence>
    /// First and last occurrence per field index, -1 when the field is absent.
    let heads: UnsafeMutableBufferPointer<Int32>
    let tails: UnsafeMutableBufferPointer<Int32>
    private(set) var count = 0

    /// Scans `bytes` as `message` and hands the result to `body`.
    static func with<R>(_ message: ProtoMessage, _ bytes: UnsafeRawBufferPointer,
                        _ body: (ProtoScan) throws -> R) throws -> R {
        guard bytes.count < Int(Int32.max) else { throw CodecError("message larger than 2 GiB") }
        let fields = max(message.fields.count, 1)
        return try withUnsafeTemporaryAllocation(of: ProtoOccurrence.self, capacity: bytes.count / 2 + 1) { occ in
            try withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * fields) { ends in
                ends.initialize(repeating: -1)
                var scan = ProtoScan(bytes: bytes, occurrences: occ,
                                     heads: UnsafeMutableBufferPointer(rebasing: ends[0..<fields]),
                                     tails: UnsafeMutableBufferPointer(rebasing: ends[fields..<2 * fields]))
                try scan.run(message)
                return try body(scan)
            }
        }
    }

    private mutating func run(_ message: ProtoMessage) throws {
        var r = ProtoWireReader(bytes)
        while !r.isAtEnd {
            let (number, wire) = try r.tag()
            guard let fi = message.fieldIndex(number: Int32(number)) else {
                try r.skip(wire, number: number)
                continue
            }
            let field = message.fields[fi]
            let start: Int
            do {
                let expected = field.type.wireType
                guard wire == expected || (wire == .lengthDelimited && field.isRepeated && field.type.isPackable) else {
                    throw CodecError("wire type \(wire.rawValue) does not fit a field of type \(ProtoNames.typeName(field.type)) (wire type \(expected.rawValue))")
                }
                switch wire {
                case .varint:
                    start = r.at
                    _ = try r.varint()
                case .fixed32:
                    start = r.at
                    _ = try r.fixed32()
                case .fixed64:
                    start = r.at
                    _ = try r.fixed64()
                case .lengthDelimited:
                    let range = try r.lengthDelimited()
                    start = range.lowerBound
                case .startGroup, .endGroup:
                    throw CodecError("unexpected group")
                }
            } catch let e as CodecError {
                throw e.within(field.name)
            }
            guard count < occurrences.count else { throw CodecError("too many fields") }
            let k = Int32(count)
            occurrences[count] = ProtoOccurrence(start: Int32(start), end: Int32(r.at), next: -1, wire: wire)
            if heads[fi] < 0 { heads[fi] = k } else { occurrences[Int(tails[fi])].next = k }
            tails[fi] = k
            count += 1
        }
    }

    /// The bytes of occurrence `k`.
    @inline(__always)
    func value(_ k: Int32) -> UnsafeRawBufferPointer {
        let o = occurrences[Int(k)]
        return UnsafeRawBufferPointer(rebasing: bytes[Int(o.start)..<Int(o.end)])
    }

    /// A reader over occurrence `k`'s bytes.
    @inline(__always)
    func reader(_ k: Int32) -> ProtoWireReader {
        let o = occurrences[Int(k)]
        return ProtoWireReader(bytes, from: Int(o.start), to: Int(o.end))
    }

    /// For a oneof member: the first occurrence index that still counts. Setting another member of
    /// the oneof clears this one, so only occurrences after the last other member's count; -1 when
    /// another member was set last (this member is not the oneof's value).
    func oneofCutoff(field fi: Int, in message: ProtoMessage) -> Int32? {
        guard let oneof = message.fields[fi].oneof else { return 0 }
        var lastOther: Int32 = -1
        for (j, f) in message.fields.enumerated() where j != fi && f.oneof == oneof {
            lastOther = max(lastOther, tails[j])
        }
        guard tails[fi] > lastOther else { return nil }
        return lastOther + 1
    }

    /// The member of oneof `oneof` set last, or nil.
    func oneofWinner(_ oneof: Int, in message: ProtoMessage) -> Int? {
        var best: Int?
        var bestAt: Int32 = -1
        for (j, f) in message.fields.enumerated() where f.oneof == oneof && tails[j] > bestAt {
            best = j
            bestAt = tails[j]
        }
        return best
    }
}

/// Names used in messages and derived schemas.
enum ProtoNames {
    static func typeName(_ t: ProtoFieldType) -> String {
        switch t {
        case .scalar(let s): s.rawValue
        case .enumeration: "enum"
        case .message: "message"
        case .timestamp: "google.protobuf.Timestamp"
        }
    }
}
