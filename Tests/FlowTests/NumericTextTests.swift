import Testing

@testable import Flow

/// `numeric`: an exact decimal of any precision, carried as canonical text.
@Suite struct NumericTextTests {
    @Test(arguments: [
        ("0", "0"), ("-0", "0"), ("-0.000", "0.000"), ("+007.50", "7.50"), (".5", "0.5"), ("-.5", "-0.5"), ("5.", "5"),
        ("1.50", "1.50"), ("000", "0"),
        ("123456789012345678901234567890123456789012345678901234567890.123456789",
         "123456789012345678901234567890123456789012345678901234567890.123456789"),
        ("NaN", "NaN"), ("nan", "NaN"), ("Infinity", "Infinity"), ("-infinity", "-Infinity"), ("+inf", "Infinity"),
        ("-INF", "-Infinity"),
    ])
    func canonicalForms(_ input: String, _ expected: String) {
        #expect(NumericText.canonical(input) == expected)
    }

    @Test(arguments: ["", "-", "+", ".", "-.", "1e5", "1.2.3", "abc", " 1", "1 ", "--1", "0x10", "-nan", "1,5", "∞"])
    func rejectsWhatIsNotAnExactDecimal(_ input: String) {
        #expect(NumericText.canonical(input) == nil)
    }

    @Test func digitsCountTheScaleAsWritten() {
        func digits(_ text: String) -> (Int, Int)? {
            Array(text.utf8).withUnsafeBytes { NumericText.digits($0).map { ($0.integer, $0.fraction) } }
        }
        #expect(digits("00123.4500")! == (3, 4))
        #expect(digits("-0.001")! == (0, 3))
        #expect(digits("NaN") == nil)
    }

    @Test func buildsCanonicalColumnsFromText() {
        var builder = ColumnBuilder(type: .numeric, reservingCapacity: 3)
        for text in ["+1.50", "-.25", "Infinity"] {
            #expect(Array(text.utf8).withUnsafeBytes { builder.append(text: $0) })
        }
        #expect(!Array("1e3".utf8).withUnsafeBytes { builder.append(text: $0) })
        let column = builder.finish()
        #expect((0..<3).map { column.value(at: $0) } == [.string("1.50"), .string("-0.25"), .string("Infinity")])
        #expect(LogicalType(parsing: "numeric") == .numeric)
        #expect(LogicalType.numeric.description == "numeric")
        #expect(LogicalType.numeric.physical == .variable)
    }
}
