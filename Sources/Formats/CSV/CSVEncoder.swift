import Flow

/// Encodes batches as CSV text that `CSVDecoder` reads back exactly.
///
/// NULL is written as the null token. A value is quoted only when it must be: it contains the
/// delimiter, the quote or a line break, it equals the null token (so the empty string is `""`
/// under the default token), or it starts or ends with a space or tab. Quotes inside are doubled.
/// Records end with LF.
public struct CSVEncoder: Sendable {
    public let schema: Schema
    public let options: CSVOptions
    private let nullToken: [UInt8]

    public init(schema: Schema, options: CSVOptions = CSVOptions()) {
        self.schema = schema
        self.options = options
        self.nullToken = Array(options.nullToken.utf8)
    }

    /// Appends the header line (column names) when `options.hasHeader`; otherwise nothing.
    public func encodeHeader(into out: inout [UInt8]) {
        guard options.hasHeader else { return }
        for (i, field) in schema.fields.enumerated() {
            if i > 0 { out.append(options.delimiter) }
            let start = out.count
            out.append(contentsOf: field.name.utf8)
            quoteIfNeeded(from: start, in: &out)
        }
        out.append(UInt8(ascii: "\n"))
    }

    /// Appends every row of `batch`.
    public func encode(_ batch: Batch, into out: inout [UInt8]) {
        encode(batch, rows: 0..<batch.rowCount, into: &out)
    }

    /// Appends rows `rows` of `batch` (callers slice a batch to bound their buffer).
    /// - Precondition: `batch.schema` has the encoder's column types.
    public func encode(_ batch: Batch, rows: Range<Int>, into out: inout [UInt8]) {
        let columns = batch.columns
        for row in rows {
            for c in 0..<columns.count {
                if c > 0 { out.append(options.delimiter) }
                let column = columns[c]
                if column.isNull(row) {
                    out.append(contentsOf: nullToken)
                    continue
                }
                let start = out.count
                ColumnText.appendText(of: column, row: row, to: &out)
                quoteIfNeeded(from: start, in: &out)
            }
            out.append(UInt8(ascii: "\n"))
        }
    }

    /// Quotes `out[start...]` in place when reading it back unquoted would change it.
    @inline(__always)
    private func quoteIfNeeded(from start: Int, in out: inout [UInt8]) {
        let end = out.count
        var needsQuotes = end - start == nullToken.count && out[start..<end].elementsEqual(nullToken)
        var quotes = 0
        if !needsQuotes && end > start {
            let first = out[start]
            let last = out[end - 1]
            needsQuotes = first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09
        }
        let delimiter = options.delimiter
        let quote = options.quote
        for i in start..<end {
            let c = out[i]
            if c == quote {
                quotes += 1
                needsQuotes = true
            } else if c == delimiter || c == 0x0A || c == 0x0D {
                needsQuotes = true
            }
        }
        guard needsQuotes else { return }
        // Widen in place, no temporary copy: grow by the added quotes, then move the value right
        // from its end, doubling embedded quotes on the way.
        let added = quotes + 2
        out.append(contentsOf: repeatElement(quote, count: added))
        var write = out.count - 2  // the closing quote stays at out.count - 1
        var read = end - 1
        while read >= start {
            let c = out[read]
            out[write] = c
            write -= 1
            if c == quote {
                out[write] = quote
                write -= 1
            }
            read -= 1
        }
        out[write] = quote  // the opening quote, at `start`
    }
}
