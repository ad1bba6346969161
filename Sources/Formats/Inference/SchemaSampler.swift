import Flow

/// Infers a schema from the first records of a file, fed incrementally like a decoder.
///
/// Contract: feed chunks in file order until `isSatisfied` (enough records seen) or the input ends,
/// then call `finish()`. Every inferred field is nullable.
public protocol SchemaSampler: Sendable {
    var isSatisfied: Bool { get }
    mutating func feed(_ chunk: UnsafeRawBufferPointer) throws
    mutating func finish() throws -> Schema
}

/// Samples CSV: names from the header (or `column_1`, `column_2`... without one), types from the
/// first `sampleRecords` records. A NULL is an unquoted field equal to the null token or empty.
public struct CSVSchemaSampler: SchemaSampler {
    public let options: CSVOptions
    public let sampleRecords: Int
    private var tokenizer: CSVTokenizer
    private var state: State

    struct State: Sendable {
        var names: [String]?
        var evidence: [ColumnEvidence] = []
        var records = 0
        var scratch: [UInt8] = []
    }

    public init(options: CSVOptions = CSVOptions(), sampleRecords: Int = SchemaInference.defaultSampleRecords,
                sourceName: String = "csv input") {
        self.options = options
        self.sampleRecords = sampleRecords
        self.tokenizer = CSVTokenizer(delimiter: options.delimiter, quote: options.quote, sourceName: sourceName)
        self.state = State()
    }

    public var isSatisfied: Bool { state.records >= sampleRecords }

    public mutating func feed(_ chunk: UnsafeRawBufferPointer) throws {
        try Self.feed(chunk, &tokenizer, &state, options, sampleRecords)
    }

    public mutating func finish() throws -> Schema {
        try Self.feed(nil, &tokenizer, &state, options, sampleRecords)
        let names = state.names ?? (0..<state.evidence.count).map { "column_\($0 + 1)" }
        return Schema(names.enumerated().map { i, name in
            Field(name, i < state.evidence.count ? state.evidence[i].inferredType : .string, nullable: true)
        })
    }

    private static func feed(
        _ chunk: UnsafeRawBufferPointer?, _ tokenizer: inout CSVTokenizer, _ state: inout State,
        _ options: CSVOptions, _ limit: Int
    ) throws {
        let nullToken = Array(options.nullToken.utf8)
        let onRecord = { (record: CSVRecord) throws in
            if record.isBlank && (state.names == nil ? options.hasHeader || state.evidence.count != 1 : state.names!.count != 1) {
                return
            }
            if options.hasHeader && state.names == nil {
                var names: [String] = []
                for i in 0..<record.count {
                    record.withValue(i, scratch: &state.scratch) { names.append(String(decoding: $0, as: UTF8.self)) }
                }
                state.names = names
                state.evidence = Array(repeating: ColumnEvidence(), count: names.count)
                return
            }
            guard state.records < limit else { return }
            state.records += 1
            if state.evidence.count < record.count {
                state.evidence.append(
                    contentsOf: repeatElement(ColumnEvidence(), count: record.count - state.evidence.count))
            }
            for i in 0..<min(record.count, state.evidence.count) {
                let span = record.fields[i]
                record.withValue(i, scratch: &state.scratch) { raw in
                    let isNull = !span.quoted && (raw.isEmpty || raw.elementsEqual(nullToken))
                    if !isNull { state.evidence[i].observe(text: raw) }
                }
            }
        }
        if let chunk { try tokenizer.feed(chunk, onRecord) } else { try tokenizer.finish(onRecord) }
    }
}

/// Samples JSON Lines: the union of keys in first-seen order, types from the first `sampleRecords`
/// objects. A missing key or `null` is NULL.
public struct JSONLinesSchemaSampler: SchemaSampler {
    public let sampleRecords: Int
    private var lines: LineSplitter
    private var state: State

    struct State: Sendable {
        var names: [String] = []
        var positions: [String: Int] = [:]
        var evidence: [ColumnEvidence] = []
        var records = 0
        var scratch: [UInt8] = []
        let sourceName: String
    }

    public init(sampleRecords: Int = SchemaInference.defaultSampleRecords, sourceName: String = "jsonl input") {
        self.sampleRecords = sampleRecords
        self.lines = LineSplitter(sourceName: sourceName)
        self.state = State(sourceName: sourceName)
    }

    public var isSatisfied: Bool { state.records >= sampleRecords }

    public mutating func feed(_ chunk: UnsafeRawBufferPointer) throws {
        try Self.feed(chunk, &lines, &state, sampleRecords)
    }

    public mutating func finish() throws -> Schema {
        try Self.feed(nil, &lines, &state, sampleRecords)
        return Schema(state.names.enumerated().map { i, name in Field(name, state.evidence[i].inferredType) })
    }

    private static func feed(
        _ chunk: UnsafeRawBufferPointer?, _ lines: inout LineSplitter, _ state: inout State, _ limit: Int
    ) throws {
        let onLine = { (line: UnsafeRawBufferPointer, number: Int) throws in
            guard state.records < limit else { return }
            do {
                try observe(line, &state)
            } catch let error as JSONSyntaxError {
                throw DponeError(
                    .source, "invalid JSON at line \(number) of \(state.sourceName): \(error.message)",
                    context: ["file": state.sourceName, "line": String(number)])
            }
        }
        if let chunk { try lines.feed(chunk, onLine) } else { try lines.finish(onLine) }
    }

    private static func observe(_ line: UnsafeRawBufferPointer, _ state: inout State) throws {
        var s = JSONScanner(line)
        s.skipWhitespace()
        if s.atEnd { return }
        state.records += 1
        try s.expect(UInt8(ascii: "{"), "'{' (each line must be a JSON object)")
        s.skipWhitespace()
        if s.peek == UInt8(ascii: "}") { return }
        while true {
            s.skipWhitespace()
            let key = try s.scanString()
            state.scratch.removeAll(keepingCapacity: true)
            try s.unescape(key, into: &state.scratch)
            let name = String(decoding: state.scratch, as: UTF8.self)
            s.skipWhitespace()
            try s.expect(UInt8(ascii: ":"), "':'")
            s.skipWhitespace()
            let value = try s.scanValue()
            let index: Int
            if let known = state.positions[name] {
                index = known
            } else {
                index = state.names.count
                state.positions[name] = index
                state.names.append(name)
                state.evidence.append(ColumnEvidence())
            }
            if value.kind == .string {
                state.scratch.removeAll(keepingCapacity: true)
                try s.unescape(value, into: &state.scratch)
                state.scratch.withUnsafeBytes { state.evidence[index].observe(json: .string, content: $0) }
            } else {
                state.evidence[index].observe(
                    json: value.kind, content: UnsafeRawBufferPointer(rebasing: line[value.start..<value.end]))
            }
            guard try s.continues(closing: UInt8(ascii: "}")) else { return }
        }
    }
}

/// Schema inference entry points over whole in-memory inputs (the file source streams instead).
public enum SchemaInference {
    /// Records sampled when the manifest does not say otherwise.
    public static let defaultSampleRecords = 1000

    public static func inferCSV(
        _ bytes: some Collection<UInt8>, options: CSVOptions = CSVOptions(),
        sampleRecords: Int = defaultSampleRecords
    ) throws -> Schema {
        var sampler = CSVSchemaSampler(options: options, sampleRecords: sampleRecords)
        try Array(bytes).withUnsafeBytes { try sampler.feed($0) }
        return try sampler.finish()
    }

    public static func inferJSONLines(
        _ bytes: some Collection<UInt8>, sampleRecords: Int = defaultSampleRecords
    ) throws -> Schema {
        var sampler = JSONLinesSchemaSampler(sampleRecords: sampleRecords)
        try Array(bytes).withUnsafeBytes { try sampler.feed($0) }
        return try sampler.finish()
    }
}

/// Samples records that arrive one by one (the elements of API pages): the union of (flattened)
/// keys in first-seen order, each typed by `ColumnEvidence`, except that a key which ever holds an
/// object or an array is `json` (widening: bool → int64 → float64 → string; a value that is
/// sometimes an object is json).
public struct JSONRecordSampler: Sendable {
    public let flatten: JSONFlatten?
    private var names: [String] = []
    private var positions: [String: Int] = [:]
    private var evidence: [ColumnEvidence] = []
    private var nested: [Bool] = []
    public private(set) var records = 0
    private var scratch: [UInt8] = []

    public init(flatten: JSONFlatten? = nil) { self.flatten = flatten }

    /// Observes the object at byte `start` of `document`.
    public mutating func observe(objectAt start: Int, in document: UnsafeRawBufferPointer) throws {
        var s = JSONScanner(document)
        s.i = start
        records += 1
        do {
            try observeMembers(&s, prefix: "", depth: 0)
        } catch let error as JSONSyntaxError {
            throw DponeError(.source, "invalid JSON in record \(records): \(error.message)")
        }
    }

    private mutating func observeMembers(_ s: inout JSONScanner, prefix: String, depth: Int) throws {
        try s.expect(UInt8(ascii: "{"), "'{' (each record must be a JSON object)")
        s.skipWhitespace()
        if s.peek == UInt8(ascii: "}") {
            s.i += 1
            return
        }
        while true {
            s.skipWhitespace()
            let key = try s.scanString()
            scratch.removeAll(keepingCapacity: true)
            try s.unescape(key, into: &scratch)
            let name = prefix + String(decoding: scratch, as: UTF8.self)
            s.skipWhitespace()
            try s.expect(UInt8(ascii: ":"), "':'")
            s.skipWhitespace()
            let value = try s.scanValue()
            if let flatten, value.kind == .object, depth < flatten.maxDepth {
                let after = s.i
                s.i = value.start
                try observeMembers(&s, prefix: name + flatten.separator, depth: depth + 1)
                s.i = after
            } else {
                let index: Int
                if let known = positions[name] {
                    index = known
                } else {
                    index = names.count
                    positions[name] = index
                    names.append(name)
                    evidence.append(ColumnEvidence())
                    nested.append(false)
                }
                if value.kind == .object || value.kind == .array { nested[index] = true }
                if value.kind == .string {
                    scratch.removeAll(keepingCapacity: true)
                    try s.unescape(value, into: &scratch)
                    scratch.withUnsafeBytes { evidence[index].observe(json: .string, content: $0) }
                } else {
                    evidence[index].observe(
                        json: value.kind, content: UnsafeRawBufferPointer(rebasing: s.b[value.start..<value.end]))
                }
            }
            guard try s.continues(closing: UInt8(ascii: "}")) else { return }
        }
    }

    /// The schema of what was observed; every column nullable.
    public func schema() -> Schema {
        Schema(names.indices.map { Field(names[$0], nested[$0] ? .json : evidence[$0].inferredType) })
    }
}
