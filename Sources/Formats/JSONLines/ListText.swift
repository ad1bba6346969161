import Flow

/// The values of a `list(T)` column (JSON arrays of scalars) as one flat column of `T`: how sinks
/// with array types (PostgreSQL `T[]`, ClickHouse `Array(T)`) write them.
///
/// Each element is read as the element type's canonical text (`ColumnBuilder.append(text:)`):
/// JSON numbers and `true` / `false` by their literal, strings by their unescaped content, `null`
/// as a NULL element. An element that is an array or an object, or text that is not a value of the
/// element type, fails naming the column, the row and the value.
public enum ListText {
    /// The flattened elements of `column` (a `list(T)` column; NULL rows have no elements) and, per
    /// row, where its elements are: row `i` holds `elements[offsets[i]..<offsets[i + 1]]`.
    public static func flatten(_ column: Column, name: String) throws -> (elements: Column, offsets: [Int]) {
        guard case .list(let elementType) = column.type, case .variable(let rowOffsets, let bytes) = column.values else {
            throw DponeError(.internal, "column \"\(name)\" of type \(column.type) is not a list", context: ["column": name])
        }
        var builder = ColumnBuilder(type: elementType, reservingCapacity: column.count * 4)
        var offsets: [Int] = []
        offsets.reserveCapacity(column.count + 1)
        offsets.append(0)
        var scratch: [UInt8] = []
        var count = 0
        try bytes.withUnsafeBytes { raw in
            for row in 0..<column.count {
                defer { offsets.append(count) }
                guard !column.isNull(row) else { continue }
                let text = UnsafeRawBufferPointer(rebasing: raw[Int(rowOffsets[row])..<Int(rowOffsets[row + 1])])
                do {
                    count += try appendElements(of: text, to: &builder, scratch: &scratch)
                } catch let failure as ListFailure {
                    let value = String(decoding: text, as: UTF8.self)
                    throw DponeError(
                        .sink, "list column \"\(name)\", row \(row): \(failure.reason) in \(value.prefix(200))",
                        hint: "a list holds scalars of \(elementType); cast the column to json to keep other values",
                        context: ["column": name, "row": String(row), "value": String(value.prefix(200))])
                }
            }
        }
        return (builder.finish(), offsets)
    }

    private struct ListFailure: Error {
        let reason: String
    }

    /// Appends the elements of one JSON array; returns how many.
    private static func appendElements(
        of text: UnsafeRawBufferPointer, to builder: inout ColumnBuilder, scratch: inout [UInt8]
    ) throws -> Int {
        var scanner = JSONScanner(text)
        var count = 0
        do {
            scanner.skipWhitespace()
            try scanner.expect(UInt8(ascii: "["), "'['")
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: "]") {
                scanner.i += 1
            } else {
                while true {
                    scanner.skipWhitespace()
                    let token = try scanner.scanValue()
                    var ok = true
                    switch token.kind {
                    case .null:
                        builder.appendNull()
                    case .number, .true, .false:
                        ok = builder.append(text: UnsafeRawBufferPointer(rebasing: text[token.start..<token.end]))
                    case .string:
                        scratch.removeAll(keepingCapacity: true)
                        try scanner.unescape(token, into: &scratch)
                        ok = scratch.withUnsafeBytes { builder.append(text: $0) }
                    case .array, .object:
                        throw ListFailure(reason: "element \(count + 1) is a nested \(token.kind == .array ? "array" : "object")")
                    }
                    guard ok else {
                        let element = String(decoding: text[token.start..<token.end], as: UTF8.self)
                        throw ListFailure(reason: "element \(count + 1) (\(element)) is not a value of type \(builder.type)")
                    }
                    count += 1
                    guard try scanner.continues(closing: UInt8(ascii: "]")) else { break }
                }
            }
            scanner.skipWhitespace()
            guard scanner.atEnd else { throw ListFailure(reason: "text after the array") }
        } catch let error as JSONSyntaxError {
            throw ListFailure(reason: "not a JSON array (\(error.message))")
        }
        return count
    }
}
