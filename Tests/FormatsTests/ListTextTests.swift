import Flow
import Formats
import Testing

/// Lists (JSON arrays of scalars) flattened into one column of the element type, as array sinks
/// write them.
@Suite struct ListTextTests {
    func column(_ type: LogicalType, _ rows: [String?]) -> Column {
        var builder = ColumnBuilder(type: .list(type), reservingCapacity: rows.count)
        for row in rows {
            if let row { builder.append(string: row) } else { builder.appendNull() }
        }
        return builder.finish()
    }

    @Test func flattensElementsAndKeepsRowBoundaries() throws {
        let (elements, offsets) = try ListText.flatten(column(.int32, ["[1, null ,3]", nil, "[]", " [ -7 ] "]), name: "ints")
        #expect(offsets == [0, 3, 3, 3, 4])
        #expect((0..<elements.count).map { elements.value(at: $0) } == [.int(1), .null, .int(3), .int(-7)])
        let (texts, _) = try ListText.flatten(column(.string, [#"["a \"q\"", "\u00fc\n", ""]"#]), name: "t")
        #expect((0..<texts.count).map { texts.value(at: $0) } == [.string("a \"q\""), .string("ü\n"), .string("")])
        let (days, _) = try ListText.flatten(column(.date, [#"["1970-01-02"]"#]), name: "d")
        #expect(days.value(at: 0) == .date(1))
        let (exact, _) = try ListText.flatten(column(.decimal(precision: 10, scale: 2), ["[1.5, -0.01]"]), name: "m")
        #expect(exact.value(at: 0) == .decimal(150, scale: 2) && exact.value(at: 1) == .decimal(-1, scale: 2))
    }

    @Test(arguments: [
        ("[[1,2],[3,4]]", "nested array"), (#"[{"a":1}]"#, "nested object"), (#"["x"]"#, "is not a value of type int32"),
        ("[1.5]", "is not a value of type int32"), ("[1,", "not a JSON array"), ("{}", "not a JSON array"), ("[1] 2", "text after the array"),
    ])
    func namesTheColumnRowAndValueOfWhatIsNotAListOfScalars(_ text: String, _ reason: String) {
        let error = #expect(throws: DponeError.self) { try ListText.flatten(column(.int32, ["[1]", text]), name: "ints") }
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        #expect(error?.context["column"] == "ints" && error?.context["row"] == "1")
    }
}
