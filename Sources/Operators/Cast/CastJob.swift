import Flow

/// Casts one column: the loops shared by every kernel. Each loop walks a typed array once and
/// writes into a `ColumnBuilder` of the target type; a value that cannot be converted either throws
/// `DponeError(.cast)` naming column, row and value, or becomes NULL when lossy casts are allowed.
struct CastJob {
    let columnName: String
    let source: Column
    let target: LogicalType
    let allowLossy: Bool

    func builder() -> ColumnBuilder { ColumnBuilder(type: target, reservingCapacity: source.count) }

    /// Handles a value that has no exact image in the target type.
    @inline(never)
    func lossy(row: Int, reason: String, into builder: inout ColumnBuilder) throws {
        guard allowLossy else {
            let value = source.value(at: row)
            var shown = ScalarFormatting.text(of: value)
            if shown.count > 100 { shown = String(shown.prefix(100)) + "…" }
            if case .string = value { shown = "'\(shown)'" }
            throw DponeError(
                .cast,
                "cannot cast column '\(columnName)' row \(row) value \(shown) from \(source.type) to \(target): \(reason)",
                hint: "fix the data, choose a wider type, or allow lossy casts to turn such values into NULL",
                context: ["column": columnName, "row": String(row)]
            )
        }
        builder.appendNull()
    }

    /// Fixed-width to fixed-width; `convert` returns nil for a value without an exact image.
    @inline(__always)
    func map<S, T: ColumnAppendable>(_ values: [S], reason: String, _ convert: (S) -> T?) throws -> Column {
        var out = builder()
        try values.withUnsafeBufferPointer { src in
            for i in 0..<src.count {
                if source.isNull(i) {
                    out.appendNull()
                } else if let v = convert(src[i]) {
                    T.append(v, to: &out)
                } else {
                    try lossy(row: i, reason: reason, into: &out)
                }
            }
        }
        return out.finish()
    }

    /// Fixed-width to text: `write` appends the canonical text of a value (false: no text exists).
    @inline(__always)
    func format<S>(_ values: [S], reason: String = "", _ write: (S, inout [UInt8]) -> Bool) throws -> Column {
        var out = builder()
        var text: [UInt8] = []
        text.reserveCapacity(64)
        try values.withUnsafeBufferPointer { src in
            for i in 0..<src.count {
                if source.isNull(i) {
                    out.appendNull()
                    continue
                }
                text.removeAll(keepingCapacity: true)
                if write(src[i], &text) {
                    text.withUnsafeBytes { out.append(bytes: $0) }
                } else {
                    try lossy(row: i, reason: reason, into: &out)
                }
            }
        }
        return out.finish()
    }

    /// Text (offsets + bytes) to fixed width; `parse` returns nil for text that is not a value.
    @inline(__always)
    func parse<T: ColumnAppendable>(
        _ offsets: [Int32], _ bytes: [UInt8], reason: String, _ parse: (UnsafeRawBufferPointer) -> T?
    ) throws -> Column {
        try eachText(offsets, bytes, reason: reason) { text, out in
            guard let v = parse(text) else { return false }
            T.append(v, to: &out)
            return true
        }
    }

    /// Text to text of the target type, each value read by `ColumnBuilder.append(text:)` (string ->
    /// numeric: checked and made canonical).
    func reparse(_ offsets: [Int32], _ bytes: [UInt8], reason: String) throws -> Column {
        try eachText(offsets, bytes, reason: reason) { text, out in out.append(text: text) }
    }

    /// Calls `append` with each non-NULL value's text; false (nothing appended) makes the value lossy.
    @inline(__always)
    private func eachText(
        _ offsets: [Int32], _ bytes: [UInt8], reason: String, _ append: (UnsafeRawBufferPointer, inout ColumnBuilder) -> Bool
    ) throws -> Column {
        var out = builder()
        try offsets.withUnsafeBufferPointer { o in
            try bytes.withUnsafeBytes { b in
                for i in 0..<source.count {
                    if source.isNull(i) {
                        out.appendNull()
                    } else if !append(UnsafeRawBufferPointer(rebasing: b[Int(o[i])..<Int(o[i + 1])]), &out) {
                        try lossy(row: i, reason: reason, into: &out)
                    }
                }
            }
        }
        return out.finish()
    }

    /// Variable width to variable width, checking each value is valid UTF-8 (bytes -> string).
    func validateUTF8(_ offsets: [Int32], _ bytes: [UInt8]) throws -> Column {
        var out = builder()
        try offsets.withUnsafeBufferPointer { o in
            try bytes.withUnsafeBufferPointer { b in
                for i in 0..<source.count {
                    if source.isNull(i) {
                        out.appendNull()
                        continue
                    }
                    let value = UnsafeBufferPointer(rebasing: b[Int(o[i])..<Int(o[i + 1])])
                    if String(validating: value, as: UTF8.self) != nil {
                        out.append(bytes: UnsafeRawBufferPointer(value))
                    } else {
                        try lossy(row: i, reason: "not valid UTF-8", into: &out)
                    }
                }
            }
        }
        return out.finish()
    }

    /// The same storage under another logical type (no value changes).
    func retyped() -> Column {
        Column(type: target, count: source.count, validity: source.validity, values: source.values)
    }
}
