import Flow
import Testing

@testable import Operators

@Suite struct PredicateParserTests {
    @Test func parsesComparisonsJoinedByAnd() throws {
        #expect(try Predicate.parse("amount >= 10 and status = 'paid'")
            == .and([
                .comparison(column: "amount", op: .greaterOrEqual, literal: .int(10)),
                .comparison(column: "status", op: .equal, literal: .string("paid")),
            ]))
    }

    @Test func andBindsTighterThanOr() throws {
        let a = Predicate.comparison(column: "a", op: .equal, literal: .int(1))
        let b = Predicate.comparison(column: "b", op: .equal, literal: .int(2))
        let c = Predicate.comparison(column: "c", op: .equal, literal: .int(3))
        #expect(try Predicate.parse("a = 1 or b = 2 and c = 3") == .or([a, .and([b, c])]))
        #expect(try Predicate.parse("a = 1 AND b = 2 OR c = 3") == .or([.and([a, b]), c]))
        #expect(try Predicate.parse("(a = 1 or b = 2) and c = 3") == .and([.or([a, b]), c]))
        #expect(try Predicate.parse("((a = 1))") == a)
    }

    @Test func operatorsAndLiterals() throws {
        let cases: [(String, Predicate)] = [
            ("x == -5", .comparison(column: "x", op: .equal, literal: .int(-5))),
            ("x != 1.50", .comparison(column: "x", op: .notEqual, literal: .decimal(150, scale: 2))),
            ("x <> 2e3", .comparison(column: "x", op: .notEqual, literal: .float(2000))),
            ("x < 'it''s'", .comparison(column: "x", op: .less, literal: .string("it's"))),
            ("x <= true", .comparison(column: "x", op: .lessOrEqual, literal: .bool(true))),
            ("x > FALSE", .comparison(column: "x", op: .greater, literal: .bool(false))),
            ("x >= null", .comparison(column: "x", op: .greaterOrEqual, literal: .null)),
            ("x is null", .isNull("x")),
            ("x IS NOT NULL", .isNotNull("x")),
            ("\"odd name\" = 1", .comparison(column: "odd name", op: .equal, literal: .int(1))),
            ("_x9 = 99999999999999999999", .comparison(column: "_x9", op: .equal, literal: .decimal(99_999_999_999_999_999_999, scale: 0))),
        ]
        for (text, expected) in cases { #expect(try Predicate.parse(text) == expected, "\(text)") }
    }

    @Test func descriptionParsesBack() throws {
        let text = "(a = 1 or \"b c\" is null) and d != 'x''y' and e >= -1.25"
        let predicate = try Predicate.parse(text)
        #expect(try Predicate.parse(predicate.description) == predicate)
    }

    @Test(arguments: [
        ("amount >= ", 11, "literal"),
        ("amount >> 1", 9, "literal"),
        ("status = 'paid", 10, "unterminated"),
        ("a = 1 and", 10, "column"),
        ("a = 1 b = 2", 7, "'and', 'or'"),
        ("(a = 1", 7, "')'"),
        ("a is not 1", 10, "'null'"),
        ("a = 1 # b", 7, "unexpected character"),
        ("= 1", 1, "column"),
        ("a ~ 1", 3, "unexpected character"),
        ("a = 12abc", 5, "malformed number"),
        ("a = 1.2.3", 5, "valid number"),
    ])
    func errorsNameThePosition(text: String, position: Int, mentions: String) {
        let error = #expect(throws: DponeError.self) { try Predicate.parse(text) }
        #expect(error?.kind == .manifest)
        #expect(error?.message.contains("position \(position):") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")")
    }
}
