import Flow

/// Decodes CSV bytes straight into column builders, by each field's logical type.
///
/// - With `hasHeader`, the first record names the columns: schema fields are matched by name (file
///   columns the schema does not list are skipped; a schema field missing from the header throws).
///   Without it, fields map to the schema by position. Blank lines are skipped, except when records
///   have one field: there a blank line is a NULL.
/// - Every record MUST have as many fields as the header (or the schema): otherwise it throws,
///   naming the line.
/// - An unquoted field equal to `nullToken` is NULL. For non-text types (everything but string, json
///   and bytes) an empty field, quoted or not, is NULL too and spaces around the value are ignored.
/// - A value that does not parse as its type throws `DponeError(.source)` naming the file, the
///   physical line (1-based), the column and the value. A NULL in a non-nullable field (or one of
///   `requiredColumns`) throws the same way.
public struct CSVDecoder: RecordDecoder {
    public let schema: Schema
    public let options: CSVOptions
    private var tokenizer: CSVTokenizer
    private var reader: CSVRecordReader

    /// - Parameters:
    ///   - sourceName: names the input in error messages (usually the file path).
    ///   - requiredColumns: fields that must not be NULL, in addition to the non-nullable ones.
    public init(schema: Schema, options: CSVOptions = CSVOptions(), sourceName: String = "csv input",
                requiredColumns: Set<String> = []) {
        self.schema = schema
        self.options = options
        self.tokenizer = CSVTokenizer(delimiter: options.delimiter, quote: options.quote, sourceName: sourceName)
        self.reader = CSVRecordReader(
            schema: schema, options: options, sourceName: sourceName, requiredColumns: requiredColumns)
    }

    public mutating func decode(chunk: UnsafeRawBufferPointer, into batch: inout BatchBuilder) throws {
        try Self.feed(chunk, &tokenizer, &reader, &batch)
    }

    public mutating func finish(into batch: inout BatchBuilder) throws {
        try Self.finish(&tokenizer, &reader, &batch)
    }

    private static func finish(
        _ tokenizer: inout CSVTokenizer, _ reader: inout CSVRecordReader, _ batch: inout BatchBuilder
    ) throws {
        try tokenizer.finish { record in try reader.read(record, into: &batch) }
    }

    private static func feed(
        _ chunk: UnsafeRawBufferPointer, _ tokenizer: inout CSVTokenizer, _ reader: inout CSVRecordReader,
        _ batch: inout BatchBuilder
    ) throws {
        try tokenizer.feed(chunk) { record in try reader.read(record, into: &batch) }
    }
}

/// Turns tokenized records into column values: header matching, field counts, NULLs, parsing.
struct CSVRecordReader: Sendable {
    let schema: Schema
    let sourceName: String
    private let nullToken: [UInt8]
    private let required: [Bool]
    private let textual: [Bool]
    /// For each schema field, its index in a record.
    private var fieldPositions: [Int]
    private var expectedFields: Int
    private(set) var awaitingHeader: Bool
    private var scratch: [UInt8] = []

    init(schema: Schema, options: CSVOptions, sourceName: String, requiredColumns: Set<String>) {
        self.schema = schema
        self.sourceName = sourceName
        self.nullToken = Array(options.nullToken.utf8)
        self.required = schema.fields.map { !$0.nullable || requiredColumns.contains($0.name) }
        self.textual = schema.fields.map { ColumnText.isText($0.type) }
        self.fieldPositions = Array(schema.fields.indices)
        self.expectedFields = schema.count
        self.awaitingHeader = options.hasHeader
    }

    mutating func read(_ record: CSVRecord, into batch: inout BatchBuilder) throws {
        if record.isBlank && (awaitingHeader || expectedFields != 1) { return }
        if awaitingHeader {
            try readHeader(record)
            return
        }
        guard record.count == expectedFields else {
            throw DponeError(
                .source,
                "line \(record.line) of \(sourceName) has \(record.count) fields, expected \(expectedFields)",
                hint: "check the delimiter and quoting of that line",
                context: ["file": sourceName, "line": String(record.line)])
        }
        var scratch: [UInt8] = []
        swap(&scratch, &self.scratch)
        defer { swap(&scratch, &self.scratch) }
        for f in 0..<fieldPositions.count {
            let position = fieldPositions[f]
            let span = record.fields[position]
            try record.withValue(position, scratch: &scratch) { raw in
                let isNull: Bool
                if textual[f] {
                    isNull = !span.quoted && equalsNullToken(raw)
                } else {
                    isNull = raw.isEmpty || (!span.quoted && equalsNullToken(raw))
                }
                if isNull {
                    if required[f] { throw nullError(field: f, line: span.line) }
                    batch.columns[f].appendNull()
                    return
                }
                let value = textual[f] ? raw : ColumnText.trimmed(raw)
                if !ColumnText.append(value, to: &batch.columns[f]) {
                    if value.isEmpty {
                        if required[f] { throw nullError(field: f, line: span.line) }
                        batch.columns[f].appendNull()
                        return
                    }
                    throw valueError(field: f, line: span.line, value: raw)
                }
            }
        }
    }

    @inline(__always)
    private func equalsNullToken(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard raw.count == nullToken.count else { return false }
        if nullToken.isEmpty { return true }
        for i in 0..<raw.count where raw[i] != nullToken[i] { return false }
        return true
    }

    private mutating func readHeader(_ record: CSVRecord) throws {
        awaitingHeader = false
        var names: [String] = []
        for i in 0..<record.count {
            record.withValue(i, scratch: &scratch) { names.append(String(decoding: $0, as: UTF8.self)) }
        }
        var positionOf: [String: Int] = [:]
        for (i, name) in names.enumerated() where positionOf[name] == nil { positionOf[name] = i }
        var positions: [Int] = []
        var missing: [String] = []
        for field in schema.fields {
            if let p = positionOf[field.name] { positions.append(p) } else { missing.append(field.name) }
        }
        guard missing.isEmpty else {
            throw DponeError(
                .schema,
                "the header of \(sourceName) has no column named \(missing.map { "\"\($0)\"" }.joined(separator: ", "))",
                hint: "the header has: \(names.joined(separator: ", "))",
                context: ["file": sourceName, "line": String(record.line)])
        }
        fieldPositions = positions
        expectedFields = record.count
    }

    private func nullError(field f: Int, line: Int) -> DponeError {
        DponeError(
            .source, "NULL in non-nullable column \"\(schema[f].name)\" at line \(line) of \(sourceName)",
            context: ["file": sourceName, "line": String(line), "column": schema[f].name])
    }

    private func valueError(field f: Int, line: Int, value: UnsafeRawBufferPointer) -> DponeError {
        DponeError(
            .source,
            "invalid \(schema[f].type) value \(ColumnText.quotedForMessage(value)) in column \"\(schema[f].name)\" at line \(line) of \(sourceName)",
            context: ["file": sourceName, "line": String(line), "column": schema[f].name])
    }
}
