import Flow
import Testing

@testable import Operators

@Suite struct ProjectTests {
    let batch = makeBatch(
        [Field("id", .int64, nullable: false), Field("name", .string), Field("amount", .decimal(precision: 10, scale: 2))],
        [[.int(1), .string("a"), .decimal(100, scale: 2)], [.int(2), .null, .null]],
        operations: [.insert, .delete])

    @Test func selectsRenamesAndReorders() throws {
        let project = Project(columns: [(source: "amount", target: "total"), (source: "id", target: "id")])
        let out = try project.apply(batch)
        #expect(out.schema == Schema([Field("total", .decimal(precision: 10, scale: 2)), Field("id", .int64, nullable: false)]))
        #expect(rows(out) == [[.decimal(100, scale: 2), .int(1)], [.null, .int(2)]])
        #expect(out.operations == [.insert, .delete])
        #expect(try project.outputSchema(for: batch.schema) == out.schema)
    }

    @Test func unknownColumnNamesTheAvailableOnes() {
        let project = Project(columns: [(source: "nope", target: "x")])
        let error = #expect(throws: DponeError.self) { try project.outputSchema(for: batch.schema) }
        #expect(error?.kind == .schema)
        #expect(error?.message.contains("'nope'") == true)
        #expect(error?.message.contains("id, name, amount") == true)
    }

    @Test func duplicateTargetIsRejected() {
        let project = Project(columns: [(source: "id", target: "x"), (source: "name", target: "x")])
        #expect(throws: DponeError.self) { try project.outputSchema(for: batch.schema) }
    }

    @Test func keepingSelectsByName() throws {
        let out = try Project(keeping: ["name"]).apply(batch)
        #expect(out.schema.names == ["name"])
        #expect(values(out, "name") == [.string("a"), .null])
    }
}
