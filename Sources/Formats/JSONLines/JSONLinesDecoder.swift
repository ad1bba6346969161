import Flow

/// Decodes JSON Lines (one object per line) straight into column builders, by key name.
///
/// - Keys the schema does not name are ignored; a field whose key is missing is NULL; a key that
///   appears twice in one object throws. Blank lines are skipped; anything but an object throws.
/// - Strings go to string columns unescaped; to other types they are parsed as canonical text
///   (dates, timestamps, uuids, decimals...). Numbers are parsed exactly from their digits (a
///   decimal column keeps every digit). Objects, arrays and any value of a json column are kept as
///   raw JSON text; into a string column, a number, bool or nested value is stored as its JSON text.
/// - For non-text types an empty string is NULL.
/// - Errors are `DponeError(.source)` naming the file, the line (1-based), the column and the value.
public struct JSONLinesDecoder: RecordDecoder {
    public let schema: Schema
    private var lines: LineSplitter
    private var reader: JSONLinesRecordReader

    /// - Parameters:
    ///   - sourceName: names the input in error messages (usually the file path).
    ///   - requiredColumns: fields that must not be NULL, in addition to the non-nullable ones.
    public init(schema: Schema, sourceName: String = "jsonl input", requiredColumns: Set<String> = []) {
        self.schema = schema
        self.lines = LineSplitter(sourceName: sourceName)
        self.reader = JSONLinesRecordReader(schema: schema, sourceName: sourceName, requiredColumns: requiredColumns)
    }

    public mutating func decode(chunk: UnsafeRawBufferPointer, into batch: inout BatchBuilder) throws {
        try Self.feed(chunk, &lines, &reader, &batch)
    }

    public mutating func finish(into batch: inout BatchBuilder) throws {
        try Self.feed(nil, &lines, &reader, &batch)
    }

    private static func feed(
        _ chunk: UnsafeRawBufferPointer?, _ lines: inout LineSplitter, _ reader: inout JSONLinesRecordReader,
        _ batch: inout BatchBuilder
    ) throws {
        if let chunk {
            try lines.feed(chunk) { line, number in try reader.read(line, number: number, into: &batch) }
        } else {
            try lines.finish { line, number in try reader.read(line, number: number, into: &batch) }
        }
    }
}

/// How nested objects are spread over columns: a member `b` of object `a` is column `a__b`
/// (separator `__`) down to `maxDepth` levels; an object deeper than that is one json column.
public struct JSONFlatten: Sendable, Hashable, Encodable {
    public var separator: String
    public var maxDepth: Int

    public init(separator: String = "__", maxDepth: Int = 8) {
        self.separator = separator
        self.maxDepth = maxDepth
    }
}

/// Reads one JSON object per line into the builders.
struct JSONLinesRecordReader: Sendable {
    let schema: Schema
    let sourceName: String
    /// What `number` counts in messages: "line" (a file) or "record" (a page of records).
    var unit = "line"
    let flatten: JSONFlatten?
    private let names: [[UInt8]]
    private let positions: [String: Int]
    private let required: [Bool]
    /// `seen[f] == rowStamp` when field f got a value in the current object.
    private var seen: [Int]
    private var rowStamp = 0
    private var scratch: [UInt8] = []
    private var keyScratch: [UInt8] = []
    /// The flattened path of the object being read (`a__b__`), with its separators.
    private var pathScratch: [UInt8] = []
    /// The field matched last in the current record (flattened names are tried after it first).
    private var lastMatched = -1

    init(schema: Schema, sourceName: String, requiredColumns: Set<String>, flatten: JSONFlatten? = nil) {
        self.schema = schema
        self.sourceName = sourceName
        self.flatten = flatten
        self.names = schema.fields.map { Array($0.name.utf8) }
        var positions: [String: Int] = [:]
        for (i, f) in schema.fields.enumerated() where positions[f.name] == nil { positions[f.name] = i }
        self.positions = positions
        self.required = schema.fields.map { !$0.nullable || requiredColumns.contains($0.name) }
        self.seen = Array(repeating: -1, count: schema.count)
    }

    mutating func read(_ line: UnsafeRawBufferPointer, number: Int, into batch: inout BatchBuilder) throws {
        var s = JSONScanner(line)
        s.skipWhitespace()
        if s.atEnd { return }
        do {
            try readRecord(&s, number: number, into: &batch)
            s.skipWhitespace()
            guard s.atEnd else { throw JSONSyntaxError(message: "unexpected text after the object at byte \(s.i + 1)") }
        } catch let error as JSONSyntaxError {
            throw DponeError(
                .source, "invalid JSON at \(unit) \(number) of \(sourceName): \(error.message)",
                context: ["file": sourceName, unit: String(number)])
        }
    }

    /// Reads the object at the scanner's cursor into one row (every column gets one value) and
    /// leaves the cursor after it. Syntax errors are `JSONSyntaxError`s at the scanner's offsets.
    mutating func readRecord(_ s: inout JSONScanner, number: Int, into batch: inout BatchBuilder) throws {
        rowStamp += 1
        pathScratch.removeAll(keepingCapacity: true)
        lastMatched = -1
        try readMembers(&s, depth: 0, number: number, into: &batch)
        for f in 0..<seen.count where seen[f] != rowStamp {
            if required[f] { throw nullError(f, line: number) }
            batch.columns[f].appendNull()
        }
    }

    private mutating func readMembers(_ s: inout JSONScanner, depth: Int, number: Int, into batch: inout BatchBuilder) throws {
        var guess = 0
        try s.expect(UInt8(ascii: "{"), depth == 0 ? "'{' (each \(unit) must be a JSON object)" : "'{'")
        s.skipWhitespace()
        if s.peek == UInt8(ascii: "}") {
            s.i += 1
            return
        }
        while true {
            s.skipWhitespace()
            let key = try s.scanString()
            s.skipWhitespace()
            try s.expect(UInt8(ascii: ":"), "':'")
            s.skipWhitespace()
            let value = try s.scanValue()
            if let flatten, value.kind == .object, depth < flatten.maxDepth {
                let mark = pathScratch.count
                try appendKey(key, of: s)
                pathScratch.append(contentsOf: flatten.separator.utf8)
                let after = s.i
                s.i = value.start
                try readMembers(&s, depth: depth + 1, number: number, into: &batch)
                s.i = after
                pathScratch.removeSubrange(mark...)
            } else if let f = try field(for: key, in: s, guess: guess) {
                guess = f + 1
                lastMatched = f
                guard seen[f] != rowStamp else {
                    throw DponeError(
                        .source, "duplicate key \"\(schema[f].name)\" at \(unit) \(number) of \(sourceName)",
                        context: ["file": sourceName, unit: String(number), "column": schema[f].name])
                }
                seen[f] = rowStamp
                try append(value, of: s, to: f, line: number, into: &batch)
            }
            guard try s.continues(closing: UInt8(ascii: "}")) else { break }
        }
    }

    /// Appends a key's unescaped text to `pathScratch`.
    private mutating func appendKey(_ key: JSONToken, of s: JSONScanner) throws {
        if key.hasEscapes {
            try s.unescape(key, into: &pathScratch)
        } else {
            pathScratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: s.b[(key.start + 1)..<(key.end - 1)]))
        }
    }

    /// The schema field a key names, trying the field after the previous key first.
    @inline(__always)
    private mutating func field(for key: JSONToken, in s: JSONScanner, guess: Int) throws -> Int? {
        if !pathScratch.isEmpty {
            // A flattened name (`meta__source`): records usually list their members in the schema's
            // order, so the field after the last one matched is tried first, without a String.
            let mark = pathScratch.count
            defer { pathScratch.removeSubrange(mark...) }
            try appendKey(key, of: s)
            let next = lastMatched + 1
            if next < names.count, names[next] == pathScratch {
                lastMatched = next
                return next
            }
            let found = positions[String(decoding: pathScratch, as: UTF8.self)]
            if let found { lastMatched = found }
            return found
        }
        let raw = UnsafeRawBufferPointer(rebasing: s.b[(key.start + 1)..<(key.end - 1)])
        if key.hasEscapes {
            keyScratch.removeAll(keepingCapacity: true)
            try s.unescape(key, into: &keyScratch)
            return positions[String(decoding: keyScratch, as: UTF8.self)]
        }
        if guess < names.count && names[guess].count == raw.count
            && names[guess].withUnsafeBytes({ $0.elementsEqual(raw) })
        {
            return guess
        }
        return positions[String(decoding: raw, as: UTF8.self)]
    }

    private mutating func append(
        _ t: JSONToken, of s: JSONScanner, to f: Int, line: Int, into batch: inout BatchBuilder
    ) throws {
        let type = schema[f].type
        let rawToken = UnsafeRawBufferPointer(rebasing: s.b[t.start..<t.end])
        switch t.kind {
        case .null:
            if required[f] { throw nullError(f, line: line) }
            batch.columns[f].appendNull()
        case .string:
            if type == .json {
                batch.columns[f].append(bytes: rawToken)
                return
            }
            var content = UnsafeRawBufferPointer(rebasing: s.b[(t.start + 1)..<(t.end - 1)])
            var scratch: [UInt8] = []
            swap(&scratch, &self.scratch)
            defer { swap(&scratch, &self.scratch) }
            if t.hasEscapes {
                scratch.removeAll(keepingCapacity: true)
                try s.unescape(t, into: &scratch)
            }
            try scratch.withUnsafeBytes { unescaped in
                if t.hasEscapes { content = unescaped }
                if !ColumnText.isText(type) && content.isEmpty {
                    if required[f] { throw nullError(f, line: line) }
                    batch.columns[f].appendNull()
                } else if !ColumnText.append(content, to: &batch.columns[f]) {
                    throw valueError(f, line: line, value: content)
                }
            }
        case .number, .true, .false:
            switch type {
            case .string, .json: batch.columns[f].append(bytes: rawToken)
            default:
                guard ColumnText.append(rawToken, to: &batch.columns[f]) else {
                    throw valueError(f, line: line, value: rawToken)
                }
            }
        case .object, .array:
            switch type {
            case .string, .json: batch.columns[f].append(bytes: rawToken)
            default: throw valueError(f, line: line, value: rawToken)
            }
        }
    }

    private func nullError(_ f: Int, line: Int) -> DponeError {
        DponeError(
            .source, "NULL in non-nullable column \"\(schema[f].name)\" at \(unit) \(line) of \(sourceName)",
            context: ["file": sourceName, unit: String(line), "column": schema[f].name])
    }

    private func valueError(_ f: Int, line: Int, value: UnsafeRawBufferPointer) -> DponeError {
        DponeError(
            .source,
            "invalid \(schema[f].type) value \(ColumnText.quotedForMessage(value)) in column \"\(schema[f].name)\" at \(unit) \(line) of \(sourceName)",
            context: ["file": sourceName, unit: String(line), "column": schema[f].name])
    }
}

/// Decodes one JSON object (a message payload, a line) into one row of the builders, with the rules
/// of `JSONLinesDecoder`. For connectors whose records arrive one by one (Kafka messages).
public struct JSONObjectReader: Sendable {
    private var reader: JSONLinesRecordReader

    public init(schema: Schema, sourceName: String, requiredColumns: Set<String> = [], flatten: JSONFlatten? = nil) {
        reader = JSONLinesRecordReader(
            schema: schema, sourceName: sourceName, requiredColumns: requiredColumns, flatten: flatten)
    }

    /// Appends the object starting at byte `start` of `document` (an element of a page's records
    /// array) as one row and returns the offset after it. Errors name `record` (1-based, for the
    /// message) and byte offsets within the whole document. After a throw the builders may hold
    /// part of the row.
    public mutating func read(
        objectAt start: Int, in document: UnsafeRawBufferPointer, record: Int, into batch: inout BatchBuilder
    ) throws -> Int {
        var s = JSONScanner(document)
        s.i = start
        reader.unit = "record"
        do {
            try reader.readRecord(&s, number: record, into: &batch)
        } catch let error as JSONSyntaxError {
            throw DponeError(
                .source, "invalid JSON in record \(record) of \(reader.sourceName): \(error.message)",
                context: ["record": String(record)])
        }
        return s.i
    }

    /// Appends one row (every column gets exactly one value) or throws `DponeError(.source)`; an
    /// all-whitespace payload appends nothing and returns false. After a throw the builders may hold
    /// part of the row (take it back with `ColumnBuilder.truncate`).
    @discardableResult
    public mutating func read(_ object: UnsafeRawBufferPointer, into batch: inout BatchBuilder) throws -> Bool {
        let before = batch.columns.first?.count ?? 0
        try reader.read(object, number: 1, into: &batch)
        return (batch.columns.first?.count ?? 0) > before
    }
}

extension JSONObjectReader {
    /// The kind of a top-level member's value.
    public enum MemberKind: Sendable, Equatable { case string, number, bool, null, object, array }

    /// Calls `body` with each top-level member of a JSON object: its (unescaped) key, the byte range
    /// of its raw value text and the value's kind. Lets a caller find envelope members (`data`,
    /// `after`, `op`) without building a tree. Throws `DponeError(.source)` on invalid JSON.
    public static func forEachMember(
        of object: UnsafeRawBufferPointer, _ body: (String, Range<Int>, MemberKind) throws -> Void
    ) throws {
        var s = JSONScanner(object)
        let root: JSONValueRef
        do {
            s.skipWhitespace()
            guard s.peek == UInt8(ascii: "{") else { throw JSONSyntaxError(message: "expected '{' (a JSON object) at byte \(s.i + 1)") }
            root = JSONValueRef(try s.scanValue())
            s.skipWhitespace()
            guard s.atEnd else { throw JSONSyntaxError(message: "unexpected text after the object at byte \(s.i + 1)") }
        } catch let error as JSONSyntaxError {
            throw DponeError(.source, "invalid JSON: \(error.message)")
        }
        do {
            try root.forEachMember(in: object) { key, value in try body(key, value.range, value.kind) }
        } catch let error as DponeError where error.context["byte"] != nil {
            throw DponeError(.source, error.message)
        }
    }
}
