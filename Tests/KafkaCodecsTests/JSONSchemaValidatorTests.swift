import Flow
import KafkaCodecs
import Testing

@Suite struct JSONSchemaValidatorTests {
    /// The violation validating `payload` throws, rendered `path: message`, or nil when it passes.
    static func check(_ schema: String, _ payload: String) throws -> String? {
        let validator = try JSONSchemaValidator(schemaText: schema)
        do {
            try validator.validate(Array(payload.utf8))
            return nil
        } catch {
            return error.description
        }
    }

    static let order = """
        {
          "$schema": "http://json-schema.org/draft-07/schema#",
          "type": "object",
          "properties": {
            "id": {"type": "integer"},
            "status": {"enum": ["new", "paid", 3, null, {"a": [1]}]},
            "at": {"type": "string", "format": "date-time"},
            "note": {"type": ["string", "null"]},
            "items": {"type": "array", "items": {"$ref": "#/definitions/item"}},
            "meta": {"type": "object", "additionalProperties": false, "properties": {"k": {"type": "boolean"}}}
          },
          "required": ["id", "items"],
          "definitions": {
            "item": {
              "type": "object",
              "properties": {"price": {"type": "number"}, "sku": {"type": "string"}, "sub": {"$ref": "#/definitions/item"}},
              "required": ["sku"]
            }
          }
        }
        """

    @Test(arguments: [
        #"{"id": 1, "items": []}"#,
        #"{"id": 1.0, "items": [{"sku": "a", "price": 2}, {"sku": "b", "price": 2.5e3}]}"#,
        #"{"id": -7, "items": [], "status": "paid", "note": null, "at": "2024-02-29T23:59:60.123+05:30"}"#,
        #"{"id": 0, "items": [], "status": 3.0, "extra": [1, {"x": null}]}"#,
        #"{"id": 0, "items": [], "status": {"a": [1.0]}}"#,
        #"{"id": 0, "items": [], "status": null, "meta": {"k": true}}"#,
        #"{"id": 0, "items": [{"sku": "a", "sub": {"sku": "b", "sub": {"sku": "c"}}}]}"#,
        #"{"id": 0, "items": [], "note": "caf\u00e9 \ud83d\ude00 \n"}"#,
        #"  {"items": [], "id": 12345678901234567890}  "#,
    ])
    func validPayloadsPass(payload: String) throws {
        #expect(try Self.check(Self.order, payload) == nil)
    }

    @Test(arguments: [
        (#"{"id": "1", "items": []}"#, "id: expected integer"),
        (#"{"id": 1.5, "items": []}"#, "id: expected integer"),
        (#"{"id": 1e400, "items": []}"#, "id: expected integer"),
        (#"{"items": []}"#, "id: required property is missing"),
        (#"{"id": 1, "items": {}}"#, "items: expected array"),
        (#"{"id": 1, "items": [{"sku": "a"}, {"sku": "b"}, {"sku": "c", "price": "9"}]}"#, "items[2].price: expected number"),
        (#"{"id": 1, "items": [{"price": 1}]}"#, "items[0].sku: required property is missing"),
        (#"{"id": 1, "items": [{"sku": "a", "sub": {"sku": 5}}]}"#, "items[0].sub.sku: expected string"),
        (#"{"id": 1, "items": [], "note": 5}"#, "note: expected string or null"),
        (#"{"id": 1, "items": [], "status": "lost"}"#, "status: not one of the enum values"),
        (#"{"id": 1, "items": [], "status": {"a": [2]}}"#, "status: not one of the enum values"),
        (#"{"id": 1, "items": [], "at": "2024-02-30T00:00:00Z"}"#, "at: expected an RFC 3339 date-time"),
        (#"{"id": 1, "items": [], "at": "2024-01-01T00:00:00"}"#, "at: expected an RFC 3339 date-time"),
        (#"{"id": 1, "items": [], "at": "2024-01-01 00:00:00Z"}"#, "at: expected an RFC 3339 date-time"),
        (#"{"id": 1, "items": [], "meta": {"k": true, "other": 1}}"#, "meta.other: property is not allowed (additionalProperties is false)"),
        (#"{"id": 1, "items": [], "meta": {"k": "yes"}}"#, "meta.k: expected boolean"),
        (#"[]"#, "expected object"),
    ])
    func violationsNameThePath(payload: String, expected: String) throws {
        #expect(try Self.check(Self.order, payload) == expected)
    }

    @Test(arguments: [
        #"{"id": 1, "items": [}"#,
        #"{"id": 1,, "items": []}"#,
        #"{"id": 01, "items": []}"#,
        #"{"id": 1, "items": []} x"#,
        #"{"id": 1, "items": [], "note": "\x"}"#,
        #"{"id": 1, "items": [], "note": "open"#,
        #"{"id": tru, "items": []}"#,
        #""#,
        #"{"id": 1, "items": [], "extra": [1, 2,]}"#,
        #"{"id": -, "items": []}"#,
    ])
    func invalidJSONThrows(payload: String) throws {
        let message = try Self.check(Self.order, payload)
        // A syntax error keeps the path of the value it was found in.
        #expect(message?.contains("invalid JSON") == true, "\(String(describing: message))")
    }

    @Test func invalidUTF8Throws() throws {
        let validator = try JSONSchemaValidator(schemaText: #"{"type": "string"}"#)
        #expect(throws: CodecError("invalid UTF-8 in string")) { try validator.validate([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func typeKeywordForms() throws {
        #expect(try Self.check(#"{"type": "number"}"#, "3") == nil)
        #expect(try Self.check(#"{"type": "integer"}"#, "3") == nil)
        #expect(try Self.check(#"{"type": "integer"}"#, "3.5") == "expected integer")
        #expect(try Self.check(#"{"type": ["integer", "string"]}"#, "true") == "expected integer or string")
        #expect(try Self.check(#"{"type": "null"}"#, "null") == nil)
        #expect(try Self.check(#"{"type": "boolean"}"#, "false") == nil)
        #expect(try Self.check(#"{"type": "boolean"}"#, "0") == "expected boolean")
        #expect(try Self.check(#"{}"#, #"{"anything": [1, "x"]}"#) == nil)
        #expect(try Self.check(#"true"#, "1") == nil)
        #expect(try Self.check(#"false"#, "1") == "no value is allowed here")
    }

    @Test func additionalPropertiesAsASchema() throws {
        let schema = #"{"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}"#
        #expect(try Self.check(schema, #"{"a": "x", "b": 1}"#) == nil)
        #expect(try Self.check(schema, #"{"a": "x", "b c": "1"}"#) == #"["b c"]: expected integer"#)
    }

    @Test func escapedKeysMatchProperties() throws {
        let schema = #"{"properties": {"a/b": {"type": "integer"}}, "required": ["a/b"]}"#
        #expect(try Self.check(schema, #"{"a\/b": 1}"#) == nil)
        #expect(try Self.check(schema, #"{"a\u002fb": "x"}"#) == #"["a/b"]: expected integer"#)
    }

    @Test func badSchemasAreRefused() {
        #expect(throws: CodecError.self) { try JSONSchemaValidator(schemaText: #"{"type": "decimal"}"#) }
        #expect(throws: CodecError.self) { try JSONSchemaValidator(schemaText: ##"{"$ref": "#/definitions/nope"}"##) }
        #expect(throws: CodecError.self) { try JSONSchemaValidator(schemaText: #"{"type": "object""#) }
        #expect(throws: CodecError.self) { try JSONSchemaValidator(schemaText: #"{"items": [{}]}"#) }
        #expect(throws: CodecError.self) { try JSONSchemaValidator(schemaText: "3") }
    }

    @Test func refToTheRootRecurses() throws {
        let schema = ##"{"type": "object", "properties": {"next": {"anyOf": [], "$ref": "#"}, "v": {"type": "integer"}}}"##
        #expect(try Self.check(schema, #"{"v": 1, "next": {"v": 2, "next": {"v": "3"}}}"#) == "next.next.v: expected integer")
    }

    @Test func deepNestingIsRefused() throws {
        let payload = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(try Self.check("{}", payload)?.contains("nesting deeper") == true)
    }

    @Test func derivedSchemaText() throws {
        let schema = Schema([
            Field("id", .int64, nullable: false), Field("name", .string), Field("amount", .decimal(precision: 10, scale: 2)),
            Field("at", .timestamp(withTimeZone: true), nullable: false), Field("doc", .json), Field("ok", .bool),
        ])
        let text = JSONSchemaDerivation.schemaText(for: schema)
        #expect(text == #"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"id":{"type":"integer"},"name":{"type":["string","null"]},"amount":{"type":["number","null"]},"at":{"type":"string","format":"date-time"},"doc":{},"ok":{"type":["boolean","null"]}},"required":["id","name","amount","at","doc","ok"],"additionalProperties":false}"#)
        // The derived schema accepts what it describes and refuses the rest.
        #expect(try Self.check(text, #"{"id":1,"name":null,"amount":1.25,"at":"2024-01-01T00:00:00Z","doc":[1],"ok":true}"#) == nil)
        #expect(try Self.check(text, #"{"id":1,"name":null,"amount":1.25,"at":null,"doc":[1],"ok":true}"#) == "at: expected string")
        #expect(try Self.check(text, #"{"id":1,"name":"x","amount":1,"at":"2024-01-01T00:00:00Z","doc":1,"ok":true,"z":0}"#)
            == "z: property is not allowed (additionalProperties is false)")
    }
}
