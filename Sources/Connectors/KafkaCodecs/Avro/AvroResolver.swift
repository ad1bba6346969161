/// Schema resolution (Avro spec, "Schema Resolution"): matches the writer's schema to the reader's
/// and compiles the result into `AvroNode`s. Incompatibilities found here throw when the decoder is
/// built; only a writer union branch the reader cannot take is left for the data to hit.
struct AvroResolver {
    enum Side { case writer, reader }

    let writer: AvroSchema
    let reader: AvroSchema
    private(set) var records: [AvroRecordPlan] = []
    private var memo: [String: Int] = [:]

    init(writer: AvroSchema, reader: AvroSchema) {
        self.writer = writer
        self.reader = reader
    }

    /// The node reading data of writer type `w` (from the `side` schema) as reader type `r`.
    /// `side` is `.reader` for defaults and skipping, where the data follows the reader's own schema.
    mutating func node(_ w: AvroType, _ r: AvroType, side: Side = .writer) throws -> AvroNode {
        let w = try (side == .writer ? writer : reader).resolve(w)
        let r = try reader.resolve(r)
        if case .union(let branches) = w {
            var nodes: [AvroNode?] = []
            for b in branches { nodes.append(attempt(b, r, side: side)) }
            guard nodes.contains(where: { $0 != nil }) else {
                throw CodecError("no branch of the writer's union matches the reader's \(r.kindName)")
            }
            return .union(nodes, names: branches.map(\.kindName))
        }
        if case .union(let branches) = r {
            // First a branch of the same kind, then the first one the writer's type promotes to.
            let resolved = try branches.map { try reader.resolve($0) }
            if let same = resolved.first(where: { Self.sameKind(w, $0) }) { return try node(w, same, side: side) }
            for b in resolved { if let n = attempt(w, b, side: side) { return n } }
            throw CodecError("writer's \(w.kindName) matches no branch of the reader's union")
        }
        switch (w, r) {
        case (.null, .null): return .null
        case (.record(let wr), .record(let rr)):
            guard Self.namesMatch(wr.name, rr.name, rr.aliases) else { throw mismatch(w, r) }
            return .record(try record(wr, rr, side: side))
        case (.array(let wi), .array(let ri)): return .array(try node(wi, ri, side: side))
        case (.map(let wv), .map(let rv)): return .map(try node(wv, rv, side: side))
        case (.enumeration(let we), .enumeration(let re)):
            guard Self.namesMatch(we.name, re.name, re.aliases) else { throw mismatch(w, r) }
            let fallback = re.defaultSymbol.flatMap { re.symbols.firstIndex(of: $0) } ?? -1
            let mapping = we.symbols.map { re.symbols.firstIndex(of: $0) ?? fallback }
            return .scalar(AvroScalarPlan(source: .enumeration(mapping: mapping), target: .symbol(re.symbols.map { Array($0.utf8) })))
        default:
            return .scalar(try scalar(w, r))
        }
    }

    /// `node(w, r)`, or nil when they do not match; a failed attempt leaves no half-built record
    /// plans behind for later lookups to find.
    private mutating func attempt(_ w: AvroType, _ r: AvroType, side: Side) -> AvroNode? {
        let (count, saved) = (records.count, memo)
        do { return try node(w, r, side: side) } catch {
            records.removeLast(records.count - count)
            memo = saved
            return nil
        }
    }

    private func mismatch(_ w: AvroType, _ r: AvroType) -> CodecError {
        CodecError("writer's \(w.kindName) does not match the reader's \(r.kindName)")
    }

    /// Names match when the unqualified names agree or the reader lists the writer's name as an alias.
    static func namesMatch(_ writer: String, _ reader: String, _ aliases: [String]) -> Bool {
        func short(_ s: String) -> Substring { s.split(separator: ".").last ?? Substring(s) }
        return writer == reader || short(writer) == short(reader) || aliases.contains(writer)
            || aliases.contains { short($0) == short(writer) }
    }

    static func sameKind(_ w: AvroType, _ r: AvroType) -> Bool {
        switch (w.base, r.base) {
        case (.null, .null), (.boolean, .boolean), (.int, .int), (.long, .long), (.float, .float),
            (.double, .double), (.bytes, .bytes), (.string, .string), (.array, .array), (.map, .map):
            return true
        case (.record(let a), .record(let b)): return namesMatch(a.name, b.name, b.aliases)
        case (.enumeration(let a), .enumeration(let b)): return namesMatch(a.name, b.name, b.aliases)
        case (.fixed(let a), .fixed(let b)): return a.size == b.size && namesMatch(a.name, b.name, b.aliases)
        default: return false
        }
    }

    private func scalar(_ w: AvroType, _ r: AvroType) throws -> AvroScalarPlan {
        let source: AvroSource
        switch (w.base, r.base) {
        case (.boolean, .boolean): source = .boolean
        case (.int, .int), (.int, .long), (.int, .float), (.int, .double): source = .int
        case (.long, .long), (.long, .float), (.long, .double): source = .long
        case (.float, .float), (.float, .double): source = .float
        case (.double, .double): source = .double
        case (.bytes, .bytes), (.bytes, .string), (.string, .string), (.string, .bytes): source = .bytes
        case (.fixed(let wf), .fixed(let rf)) where wf.size == rf.size && Self.namesMatch(wf.name, rf.name, rf.aliases):
            source = .fixed(wf.size)
        default: throw mismatch(w, r)
        }
        return AvroScalarPlan(source: source, target: Self.target(writer: w, reader: r))
    }

    /// The reader's meaning of the value; the writer's logical type only supplies units and scale.
    static func target(writer w: AvroType, reader r: AvroType) -> AvroTarget {
        let writerMillis: Bool? =
            switch w.logicalType {
            case .timeMillis, .timestampMillis, .localTimestampMillis: true
            case .timeMicros, .timestampMicros, .localTimestampMicros: false
            default: nil
            }
        switch r.logicalType {
        case .decimal(let p, let s):
            var from = s
            if case .decimal(_, let ws) = w.logicalType { from = ws }
            return .decimal(fromScale: from, toScale: s, precision: p)
        case .date: return .date
        case .timeMillis: return .time(multiplier: 1000)
        case .timeMicros: return .time(multiplier: writerMillis == true ? 1000 : 1)
        case .timestampMillis, .localTimestampMillis, .timestampMicros, .localTimestampMicros:
            let readerMillis = r.logicalType == .timestampMillis || r.logicalType == .localTimestampMillis
            let tz = r.logicalType == .timestampMillis || r.logicalType == .timestampMicros
            return .timestamp(multiplier: (writerMillis ?? readerMillis) ? 1000 : 1, withTimeZone: tz)
        case .uuid:
            if case .fixed = r.base { return .uuidRaw }
            return .uuidText
        case nil:
            switch r.base {
            case .boolean: return .bool
            case .int, .long: return .integer
            case .float: return .float32
            case .double: return .float64
            case .string: return .text
            default: return .bytes
            }
        }
    }

    /// The plan index of writer record `w` read as reader record `r`, built once per pair.
    private mutating func record(_ w: AvroRecord, _ r: AvroRecord, side: Side) throws -> Int {
        let key = "\(side == .writer ? "w" : "r"):\(w.name)|\(r.name)"
        if let i = memo[key] { return i }
        let index = records.count
        records.append(AvroRecordPlan())
        memo[key] = index
        var plan = AvroRecordPlan()
        var taken = Set<Int>()
        for wf in w.fields {
            let ri = Self.readerField(for: wf, in: r)
            if let ri {
                guard taken.insert(ri).inserted else {
                    throw CodecError("two writer fields map to reader field \(r.fields[ri].name)")
                }
                let rf = r.fields[ri]
                do {
                    let n = try node(wf.type, rf.type, side: side)
                    plan.steps.append(.init(name: rf.name, key: Self.jsonKey(rf.name), node: n, keep: true))
                } catch let e as CodecError { throw e.within(rf.name) }
            } else {
                let n = try node(wf.type, wf.type, side: side)
                plan.steps.append(.init(name: wf.name, key: [], node: n, keep: false))
            }
        }
        for (ri, rf) in r.fields.enumerated() where !taken.contains(ri) {
            do {
                let (bytes, n) = try defaultValue(rf)
                plan.defaults.append(.init(key: Self.jsonKey(rf.name), bytes: bytes, node: n))
            } catch let e as CodecError { throw e.within(rf.name) }
        }
        records[index] = plan
        return index
    }

    /// The binary form of reader field `f`'s default and the node that reads it.
    mutating func defaultValue(_ f: AvroField) throws -> (bytes: [UInt8], node: AvroNode) {
        guard let json = f.defaultValue else {
            throw CodecError("the writer lacks this field and the reader gives no default")
        }
        var bytes: [UInt8] = []
        try AvroDefaults.encode(json, as: f.type, in: reader, to: &bytes)
        return (bytes, try node(f.type, f.type, side: .reader))
    }

    /// The reader field a writer field fills: same name, else a reader alias naming it.
    static func readerField(for wf: AvroField, in r: AvroRecord) -> Int? {
        r.fields.firstIndex { $0.name == wf.name } ?? r.fields.firstIndex { $0.aliases.contains(wf.name) }
    }

    static func jsonKey(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        JSONText.appendString(name, to: &out)
        out.append(UInt8(ascii: ":"))
        return out
    }
}
