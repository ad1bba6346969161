import Flow
import KafkaCodecs
import Testing

@Suite struct ProtobufParserTests {
    @Test func parsesFileHeaderAndMessages() throws {
        let file = try ProtoFixtures.file()
        #expect(file.syntax == "proto3")
        #expect(file.package == "shop")
        #expect(file.imports == ["google/protobuf/timestamp.proto"])
        #expect(file.topLevelMessages.map { file.messages[$0].fullName } == ["shop.Order", "shop.Other"])
        let order = try file.message(named: "shop.Order")
        #expect(order.fields.count == 15)
        #expect(order.fields[6].type == .timestamp)
        #expect(order.fields[7].label == .optional)
        #expect(order.fields[0].label == .implicit)
        guard case .enumeration(let e) = order.fields[10].type else {
            Issue.record("status is not an enum")
            return
        }
        #expect(file.enums[e].fullName == "shop.Order.Status")
        #expect(file.enums[e].symbol(for: 1) == "PAID")
    }

    @Test func mapsOneofsAndQualifiedNamesResolve() throws {
        let file = try ProtoFixtures.file()
        let other = try file.message(named: ".shop.Other")
        let counts = try #require(other.fields.first { $0.name == "counts" })
        #expect(counts.isMap && counts.isRepeated)
        guard case .message(let entryID) = counts.type else {
            Issue.record("map field is not an entry message")
            return
        }
        #expect(file.messages[entryID].fullName == "shop.Other.CountsEntry")
        #expect(file.messages[entryID].isMapEntry)
        #expect(other.oneofs == ["choice"])
        #expect(other.fields.filter { $0.oneof == 0 }.map(\.name) == ["text", "item", "number"])
        let inner = try file.message(named: "shop.Other.Inner")
        guard case .enumeration(let kind) = inner.fields[1].type else {
            Issue.record("Other.Item.Kind did not resolve from Inner's scope")
            return
        }
        #expect(file.enums[kind].fullName == "shop.Other.Item.Kind")
    }

    @Test func messageIndexesFollowConfluent() throws {
        let file = try ProtoFixtures.file()
        #expect(try file.message(atIndexes: []).fullName == "shop.Order")
        #expect(try file.message(atIndexes: [0]).fullName == "shop.Order")
        #expect(try file.message(atIndexes: [1]).fullName == "shop.Other")
        #expect(try file.message(atIndexes: [1, 0]).fullName == "shop.Other.Inner")
        #expect(try file.message(atIndexes: [1, 1]).fullName == "shop.Other.Item")
        #expect(file.indexes(of: try file.message(named: "shop.Other.Item")) == [1, 1])
        #expect(throws: ProtoSchemaError.self) { try file.message(atIndexes: [2]) }
        #expect(throws: ProtoSchemaError.self) { try file.message(atIndexes: [1, 2]) }
        #expect(throws: ProtoSchemaError.self) { try file.message(atIndexes: [0, 0]) }
        #expect(throws: ProtoSchemaError.self) { try file.message(named: "shop.Missing") }
        // Map entries are not declared messages, so they are never named or counted.
        #expect(throws: ProtoSchemaError.self) { try file.message(named: "shop.Other.CountsEntry") }
    }

    @Test func proto2LabelsAreAccepted() throws {
        let file = try ProtoFile(parsing: """
            syntax = "proto2";
            message M {
              required int32 a = 1;
              optional string b = 2 [default = "x"];
              repeated int64 c = 3 [packed = true];
              extensions 100 to 199;
            }
            """)
        let m = try file.message(atIndexes: [0])
        #expect(m.fields.map(\.label) == [.required, .optional, .repeated])
        let schema = ProtoSchemaMapping.schema(for: m, in: file)
        #expect(schema.fields == [Field("a", .int32, nullable: false), Field("b", .string), Field("c", .json, nullable: false)])
    }

    @Test func servicesOptionsAndCommentsAreSkipped() throws {
        let file = try ProtoFile(parsing: """
            syntax = 'proto3'; // single quotes are allowed
            option (my.ext) = { a: 1 b: "}" };
            service Shop { rpc Get (M) returns (M) { option (x) = true; } }
            message M { /* block
              comment */ int32 a = 1 [(custom.opt).v = 2, deprecated = true]; option (m) = 1; }
            enum Top { TOP_ZERO = 0; TOP_ONE = 1 [(e) = 1]; }
            """)
        #expect(file.topLevelMessages.count == 1)
        #expect(file.enums.map(\.fullName) == ["Top"])
    }

    /// Each malformed text with the place its error points at.
    @Test(arguments: [
        ("syntax = \"proto3\";\nmessage M {\n  int32 a = 0;\n}", 3, 13, "field numbers"),
        ("syntax = \"proto3\";\nmessage M {\n  int32 a = 1;\n  string b = 1;\n}", 4, 14, "already used"),
        ("syntax = \"proto3\";\nmessage M {\n  Missing a = 1;\n}", 3, 3, "unknown type Missing"),
        ("syntax = \"proto3\";\nmessage M {\n  required int32 a = 1;\n}", 3, 3, "'required' is not allowed"),
        ("syntax = \"proto3\";\nmessage M {\n  int32 a = 1\n}", 4, 1, "expected ';'"),
        ("syntax = \"proto3\";\nmessage M {\n  int32 a = 19500;\n}", 3, 13, "reserved for protobuf"),
        ("syntax = \"proto3\";\nmessage M {\n  reserved 2;\n  int32 a = 2;\n}", 4, 3, "reserved number"),
        ("syntax = \"proto3\";\nenum E { A = 1; }", 2, 6, "must be 0"),
        ("syntax = \"proto4\";", 1, 10, "unsupported syntax"),
        ("syntax = \"proto3\";\nmessage M { map<float, int32> m = 1; }", 2, 17, "map key"),
        ("syntax = \"proto2\";\nmessage M { optional group G = 1 { } }", 2, 22, "groups are not supported"),
        ("message M { int32 a = 1; } /* open", 1, 28, "unterminated"),
        ("syntax = \"proto3\";\nmessage M { string s = 1; }\nmessage M { }", 3, 9, "declared twice"),
    ])
    func errorsCarryLineAndColumn(text: String, line: Int, column: Int, fragment: String) {
        do {
            _ = try ProtoFile(parsing: text)
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
        }
    }

    @Test func unresolvedImportsAreNamedInTheError() {
        do {
            _ = try ProtoFile(parsing: """
                syntax = "proto3";
                import "other/money.proto";
                message M { money.Amount total = 1; }
                """)
            Issue.record("parsed")
        } catch {
            #expect(error.message.contains("other/money.proto"), "\(error)")
            #expect(error.line == 3)
        }
    }

    @Test func importsWhoseTypesAreUnusedAreFine() throws {
        let file = try ProtoFile(parsing: """
            syntax = "proto3";
            import "google/protobuf/descriptor.proto";
            message M { int32 a = 1; }
            """)
        #expect(file.messages.count == 1)
    }
}
