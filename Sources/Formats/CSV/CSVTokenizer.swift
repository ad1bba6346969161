import Flow

/// Where one field of a CSV record lies in the buffer being tokenized.
struct CSVFieldSpan: Sendable {
    /// First content byte (after an opening quote).
    var start: Int
    /// One past the last content byte (before a closing quote, without a trailing CR).
    var end: Int
    var quoted: Bool
    /// The content holds doubled quotes that must be collapsed to read the value.
    var hasEscapedQuotes: Bool
    /// The physical line (1-based) the field starts on.
    var line: Int
}

/// A complete record; valid only inside the tokenizer's callback.
struct CSVRecord {
    let buffer: UnsafeRawBufferPointer
    let fields: [CSVFieldSpan]
    /// The physical line (1-based) the record starts on.
    let line: Int
    let quote: UInt8

    var count: Int { fields.count }

    /// An empty line: one unquoted empty field. Readers skip it unless records have one field
    /// (where it is that field's NULL, as in PostgreSQL's CSV format).
    var isBlank: Bool { fields.count == 1 && !fields[0].quoted && fields[0].start == fields[0].end }

    /// The value bytes of field `i`, with doubled quotes collapsed (into `scratch` when needed).
    @inline(__always)
    func withValue<R>(
        _ i: Int, scratch: inout [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        let span = fields[i]
        let raw = UnsafeRawBufferPointer(rebasing: buffer[span.start..<span.end])
        guard span.hasEscapedQuotes else { return try body(raw) }
        scratch.removeAll(keepingCapacity: true)
        var j = 0
        while j < raw.count {
            scratch.append(raw[j])
            j += raw[j] == quote ? 2 : 1
        }
        return try scratch.withUnsafeBytes { try body($0) }
    }
}

/// Splits CSV bytes into records (RFC 4180), incrementally.
///
/// Contract: feed chunks of any size in order, then call `finish`. Each complete record is passed to
/// the callback exactly once, in order; a record split across chunks is carried over (copied once)
/// and completed by the next chunk. Records end at LF or CRLF (a lone CR is data); quoted fields may
/// hold delimiters, quotes (doubled) and line breaks. Blank lines are records (see `isBlank`). A quote inside an
/// unquoted field is data; text after a closing quote other than a delimiter or line end is an error.
struct CSVTokenizer: Sendable {
    let delimiter: UInt8
    let quote: UInt8
    let sourceName: String
    /// The unconsumed tail of earlier chunks: the start of an incomplete record.
    private var pending: [UInt8] = []
    private var spans: [CSVFieldSpan] = []
    /// The physical line the next record starts on.
    private(set) var line = 1

    init(delimiter: UInt8, quote: UInt8, sourceName: String) {
        self.delimiter = delimiter
        self.quote = quote
        self.sourceName = sourceName
        self.mark = ByteOrderMarkFilter(sourceName: sourceName)
    }

    /// Drops a UTF-8 byte-order mark (spreadsheets write one; it must not become part of the first
    /// column's name) and refuses UTF-16 input.
    private var mark: ByteOrderMarkFilter

    /// Bytes held over from earlier chunks.
    var carriedBytes: Int { pending.count + mark.heldBytes }

    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ onRecord: (CSVRecord) throws -> Void) throws {
        switch try mark.feed(chunk) {
        case .wait: return
        case .start(let bytes): try bytes.withUnsafeBytes { try feedBody($0, onRecord) }
        case .pass: try feedBody(chunk, onRecord)
        }
    }

    private mutating func feedBody(_ chunk: UnsafeRawBufferPointer, _ onRecord: (CSVRecord) throws -> Void) throws {
        if pending.isEmpty {
            let consumed = try scan(chunk, isFinal: false, onRecord)
            if consumed < chunk.count { pending.append(contentsOf: chunk[consumed...]) }
        } else {
            pending.append(contentsOf: chunk)
            try scanPending(isFinal: false, onRecord)
        }
    }

    /// Ends the input: the last record may lack a line break. An unterminated quoted field throws.
    mutating func finish(_ onRecord: (CSVRecord) throws -> Void) throws {
        if let rest = try mark.finish() { pending.append(contentsOf: rest) }
        try scanPending(isFinal: true, onRecord)
    }

    private mutating func scanPending(isFinal: Bool, _ onRecord: (CSVRecord) throws -> Void) throws {
        var buffer: [UInt8] = []
        swap(&buffer, &pending)
        let consumed = try buffer.withUnsafeBytes { try scan($0, isFinal: isFinal, onRecord) }
        buffer.removeFirst(consumed)
        swap(&buffer, &pending)
    }

    /// Scans complete records from `b`; returns the bytes consumed (the rest starts an incomplete record).
    private mutating func scan(
        _ b: UnsafeRawBufferPointer, isFinal: Bool, _ onRecord: (CSVRecord) throws -> Void
    ) throws -> Int {
        let n = b.count
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        let delimiter = self.delimiter
        let quote = self.quote
        var pos = 0
        while pos < n {
            spans.removeAll(keepingCapacity: true)
            var i = pos
            var lineAt = line
            fields: while true {
                if i >= n {
                    // Only reachable right after a delimiter: the record's last field is empty.
                    guard isFinal else { return pos }
                    spans.append(CSVFieldSpan(start: n, end: n, quoted: false, hasEscapedQuotes: false, line: lineAt))
                    break fields
                }
                if b[i] == quote {
                    let fieldLine = lineAt
                    let start = i + 1
                    var j = start
                    var escaped = false
                    while true {
                        guard j < n else {
                            guard isFinal else { return pos }
                            throw DponeError(
                                .source, "unterminated quoted field starting at line \(fieldLine) of \(sourceName)",
                                context: ["file": sourceName, "line": String(fieldLine)])
                        }
                        let c = b[j]
                        if c == quote {
                            if j + 1 < n {
                                if b[j + 1] == quote {
                                    escaped = true
                                    j += 2
                                    continue
                                }
                                break
                            }
                            guard isFinal else { return pos }
                            break
                        }
                        if c == lf { lineAt += 1 }
                        j += 1
                    }
                    spans.append(
                        CSVFieldSpan(start: start, end: j, quoted: true, hasEscapedQuotes: escaped, line: fieldLine))
                    i = j + 1
                    if i >= n {
                        guard isFinal else { return pos }
                        break fields
                    }
                    let c = b[i]
                    if c == delimiter {
                        i += 1
                        continue fields
                    }
                    if c == lf {
                        i += 1
                        lineAt += 1
                        break fields
                    }
                    if c == cr {
                        if i + 1 < n {
                            if b[i + 1] == lf {
                                i += 2
                                lineAt += 1
                                break fields
                            }
                        } else {
                            guard isFinal else { return pos }
                            i += 1
                            break fields
                        }
                    }
                    throw DponeError(
                        .source,
                        "unexpected character after a closing quote at line \(lineAt) of \(sourceName)",
                        hint: "quote the whole field and double any quote inside it",
                        context: ["file": sourceName, "line": String(lineAt)])
                } else {
                    let start = i
                    var j = i
                    while j < n {
                        let c = b[j]
                        if c == delimiter || c == lf { break }
                        j += 1
                    }
                    if j >= n {
                        guard isFinal else { return pos }
                        let end = j > start && b[j - 1] == cr ? j - 1 : j
                        spans.append(CSVFieldSpan(start: start, end: end, quoted: false, hasEscapedQuotes: false, line: lineAt))
                        i = n
                        break fields
                    }
                    if b[j] == delimiter {
                        spans.append(CSVFieldSpan(start: start, end: j, quoted: false, hasEscapedQuotes: false, line: lineAt))
                        i = j + 1
                        continue fields
                    }
                    let end = j > start && b[j - 1] == cr ? j - 1 : j
                    spans.append(CSVFieldSpan(start: start, end: end, quoted: false, hasEscapedQuotes: false, line: lineAt))
                    i = j + 1
                    lineAt += 1
                    break fields
                }
            }
            let recordLine = line
            line = lineAt
            pos = i
            try onRecord(CSVRecord(buffer: b, fields: spans, line: recordLine, quote: quote))
        }
        return pos
    }
}
