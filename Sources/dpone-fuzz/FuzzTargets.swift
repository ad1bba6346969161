import ClickHouseConnector
import Flow
import Formats
import Foundation
import KafkaCodecs
import Manifest
import Pipeline
import PostgresConnector

/// The decoders that face bytes from other systems, each as one fuzz entry point. A target must
/// never trap, leak or read out of bounds, whatever the bytes: it either decodes or throws.
///
/// Several targets use the first input byte to pick a mode (where to split a stream in two chunks,
/// or whether the input is a payload or a schema text), so one corpus covers both.
enum FuzzTarget: String, CaseIterable {
    case pgoutput
    case copyBinary = "copy-binary"
    case clickhouseNative = "clickhouse-native"
    case clickhouseCompressed = "clickhouse-compressed"
    case avro
    case protobuf
    case jsonSchema = "json-schema"
    case confluentWire = "confluent-wire"
    case csv
    case jsonl
    case manifest

    func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .pgoutput: _ = try? PgOutputDecoder.decode(Array(input))
        case .copyBinary: Self.copyBinary(input)
        case .clickhouseNative: Self.native(input)
        case .clickhouseCompressed: Self.compressed(input)
        case .avro: Self.avro(input)
        case .protobuf: Self.protobuf(input)
        case .jsonSchema: Self.jsonSchema(input)
        case .confluentWire:
            for type in SchemaType.allCases { _ = try? ConfluentWire.parse(input, type: type) }
        case .csv: Self.records(input, CSVDecoder(schema: Self.csvSchema), schema: Self.csvSchema)
        case .jsonl: Self.records(input, JSONLinesDecoder(schema: Self.jsonlSchema), schema: Self.jsonlSchema)
        case .manifest:
            _ = try? ManifestLoader.parse(yaml: String(decoding: input, as: UTF8.self), path: "fuzz.yml", environment: [:])
        }
    }

    /// The first byte picks a split point of the rest, so chunk boundaries are fuzzed as well.
    static func split(_ input: UnsafeRawBufferPointer) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        guard let first = input.first else { return (input, input) }
        let rest = UnsafeRawBufferPointer(rebasing: input[1...])
        let cut = rest.isEmpty ? 0 : Int(first) % (rest.count + 1)
        return (UnsafeRawBufferPointer(rebasing: rest[..<cut]), UnsafeRawBufferPointer(rebasing: rest[cut...]))
    }

    /// Every PostgreSQL wire format the COPY decoder reads, arrays included.
    static let copySchema = Schema([
        Field("i2", .int16), Field("i4", .int32), Field("i8", .int64), Field("f4", .float32), Field("f8", .float64),
        Field("num", .decimal(precision: 10, scale: 2)), Field("big", .numeric), Field("txt", .string), Field("flag", .bool),
        Field("day", .date), Field("clock", .time), Field("ts", .timestamp(withTimeZone: false)),
        Field("tstz", .timestamp(withTimeZone: true)), Field("id", .uuid), Field("js", .json), Field("jsb", .json),
        Field("blob", .bytes), Field("ints", .list(.int32)), Field("words", .list(.string)),
    ])
    static let copyFormats: [PostgresWireFormat] = [
        .int2, .int4, .int8, .float4, .float8, .numeric, .numeric, .text, .bool, .date, .time, .timestamp, .timestamptz,
        .uuid, .json, .jsonb, .bytea, .array(elementOID: 23, element: .int4), .array(elementOID: 25, element: .text),
    ]

    static func copyBinary(_ input: UnsafeRawBufferPointer) {
        guard var decoder = try? CopyBinaryDecoder(schema: copySchema, formats: copyFormats) else { return }
        var builder = BatchBuilder(schema: copySchema)
        let (a, b) = split(input)
        do {
            _ = try decoder.decode(a, into: &builder)
            _ = try decoder.decode(b, into: &builder)
            try decoder.finish()
            _ = builder.finish()
        } catch {}
    }

    static func native(_ input: UnsafeRawBufferPointer) {
        var decoder = NativeDecoder()
        let (a, b) = split(input)
        do {
            _ = try decoder.decode(a)
            _ = try decoder.decode(b)
            _ = try decoder.finish()
        } catch {}
    }

    static func compressed(_ input: UnsafeRawBufferPointer) {
        var decoder = CompressedBlockDecoder()
        var out: [UInt8] = []
        let (a, b) = split(input)
        do {
            try decoder.decode(a, into: &out)
            try decoder.decode(b, into: &out)
            try decoder.finish()
        } catch {}
    }

    /// Rows the way a source takes them: a failed row is rolled back before the next.
    static func decodeRows(_ decoder: some RowDecoder, _ payloads: [UnsafeRawBufferPointer]) {
        var builder = BatchBuilder(schema: decoder.schema)
        for payload in payloads {
            let before = builder.columns.first?.count ?? 0
            do {
                try decoder.decode(payload, into: &builder.columns)
            } catch {
                for i in builder.columns.indices { builder.columns[i].truncate(to: before) }
            }
        }
        _ = builder.finish()
    }

    static let avroWriter = #"""
        {"type":"record","name":"Row","namespace":"fuzz","fields":[
         {"name":"b","type":"boolean"},{"name":"i","type":"int"},{"name":"l","type":"long"},
         {"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"s","type":"string"},
         {"name":"by","type":"bytes"},{"name":"n","type":["null","string"]},
         {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
         {"name":"fx","type":{"type":"fixed","name":"F","size":4}},
         {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
         {"name":"day","type":{"type":"int","logicalType":"date"}},
         {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
         {"name":"u","type":{"type":"string","logicalType":"uuid"}},
         {"name":"arr","type":{"type":"array","items":"long"}},
         {"name":"m","type":{"type":"map","values":"string"}},
         {"name":"sub","type":["null",{"type":"record","name":"Sub","fields":[{"name":"x","type":"int"}]}]}]}
        """#
    /// The writer with one field dropped and one added with a default: resolution is fuzzed too.
    static let avroReader = #"""
        {"type":"record","name":"Row","namespace":"fuzz","fields":[
         {"name":"b","type":"boolean"},{"name":"i","type":"long"},{"name":"l","type":"long"},
         {"name":"f","type":"double"},{"name":"d","type":"double"},{"name":"s","type":"string"},
         {"name":"n","type":["null","string"]},{"name":"added","type":"string","default":"x"},
         {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C","D"],"default":"D"}},
         {"name":"arr","type":{"type":"array","items":"long"}},
         {"name":"sub","type":["null",{"type":"record","name":"Sub","fields":[{"name":"x","type":"int"}]}]}]}
        """#
    nonisolated(unsafe) static let avroDecoders: [AvroDecoder] = {
        guard let writer = try? AvroSchema(parsing: avroWriter), let reader = try? AvroSchema(parsing: avroReader),
            let plain = try? AvroDecoder(schema: writer), let resolved = try? AvroDecoder(writer: writer, reader: reader)
        else { fatalError("the fuzz target's own Avro schemas must parse") }
        return [plain, resolved]
    }()

    /// Mode byte: even → a payload for the plain and the resolving decoder; odd → a schema text.
    static func avro(_ input: UnsafeRawBufferPointer) {
        guard let mode = input.first else { return }
        let rest = UnsafeRawBufferPointer(rebasing: input[1...])
        if mode & 1 == 0 {
            for decoder in avroDecoders { decodeRows(decoder, [rest]) }
        } else if let schema = try? AvroSchema(parsing: String(decoding: rest, as: UTF8.self)),
            let decoder = try? AvroDecoder(schema: schema)
        {
            decodeRows(decoder, [UnsafeRawBufferPointer(start: nil, count: 0)])
        }
    }

    static let protoText = """
        syntax = "proto3";
        package fuzz;
        import "google/protobuf/timestamp.proto";
        message Row {
          int32 id = 1; string name = 2; sint32 delta = 3; fixed32 code = 4; double price = 5; float ratio = 6;
          google.protobuf.Timestamp created = 7; optional int64 qty = 8; uint64 big = 9; bool paid = 10;
          Status status = 11; bytes blob = 12; uint32 u32 = 13; sint64 s64 = 14; sfixed64 sf64 = 15;
          repeated int64 packed = 16; repeated string tags = 17; Inner inner = 18; map<string, int32> counts = 19;
          oneof choice { string a = 20; int64 b = 21; }
          enum Status { UNKNOWN = 0; PAID = 1; SHIPPED = 2; }
          message Inner { int32 x = 1; string y = 2; }
        }
        """
    nonisolated(unsafe) static let protoDecoder: ProtobufDecoder = {
        guard let decoder = try? ProtobufDecoder(protoText: protoText, messageName: "fuzz.Row") else {
            fatalError("the fuzz target's own proto schema must parse")
        }
        return decoder
    }()

    /// Mode byte: even → a payload; odd → a `.proto` text.
    static func protobuf(_ input: UnsafeRawBufferPointer) {
        guard let mode = input.first else { return }
        let rest = UnsafeRawBufferPointer(rebasing: input[1...])
        if mode & 1 == 0 {
            decodeRows(protoDecoder, [rest])
        } else if let decoder = try? ProtobufDecoder(protoText: String(decoding: rest, as: UTF8.self)) {
            decodeRows(decoder, [UnsafeRawBufferPointer(start: nil, count: 0)])
        }
    }

    static let jsonSchemaText = #"""
        {"type":"object","required":["id"],"additionalProperties":false,"properties":{
         "id":{"type":"integer","minimum":0},"name":{"type":["string","null"],"maxLength":20,"pattern":"^[a-z]+$"},
         "price":{"type":"number","exclusiveMaximum":1e9,"multipleOf":0.01},"paid":{"type":"boolean"},
         "at":{"type":"string","format":"date-time"},"day":{"type":"string","format":"date"},
         "tags":{"type":"array","items":{"type":"string"},"maxItems":5,"uniqueItems":true},
         "kind":{"enum":["a","b",1,null]},"fixed":{"const":"k"},
         "meta":{"type":"object","properties":{"k":{"type":"string"}},"required":["k"]},
         "either":{"oneOf":[{"type":"integer"},{"type":"string","minLength":2}]},
         "both":{"allOf":[{"type":"number"},{"minimum":1}]},"any":{"anyOf":[{"type":"null"},{"type":"array"}]},
         "not":{"not":{"type":"string"}}}}
        """#
    nonisolated(unsafe) static let jsonSchemaValidator: JSONSchemaValidator = {
        guard let validator = try? JSONSchemaValidator(schemaText: jsonSchemaText) else {
            fatalError("the fuzz target's own JSON Schema must compile")
        }
        return validator
    }()
    static let jsonSchemaColumns = Schema([
        Field("id", .int64), Field("name", .string), Field("price", .float64), Field("paid", .bool),
        Field("at", .timestamp(withTimeZone: true)), Field("day", .date), Field("tags", .json), Field("meta", .json),
    ])

    /// Mode byte: even → a payload, validated and then read as a row the way the Kafka source does;
    /// odd → a schema text.
    static func jsonSchema(_ input: UnsafeRawBufferPointer) {
        guard let mode = input.first else { return }
        let rest = UnsafeRawBufferPointer(rebasing: input[1...])
        if mode & 1 == 0 {
            guard (try? jsonSchemaValidator.validate(rest)) != nil else { return }
            var reader = JSONObjectReader(schema: jsonSchemaColumns, sourceName: "fuzz")
            var builder = BatchBuilder(schema: jsonSchemaColumns)
            if (try? reader.read(rest, into: &builder)) != nil { _ = builder.finish() }
        } else if let validator = try? JSONSchemaValidator(schemaText: String(decoding: rest, as: UTF8.self)) {
            _ = try? validator.validate(Array("{\"a\":[1,\"x\",null,{\"b\":true}]}".utf8))
        }
    }

    /// The schemas of the goldens the `csv` and `jsonl` seeds come from (`CSVDecoderTests.everyTypeSchema`,
    /// `JSONLinesTests.byNameSchema`), so the seeds decode.
    static let csvSchema = Schema([
        Field("b", .bool), Field("i16", .int16), Field("i32", .int32), Field("i64", .int64),
        Field("f32", .float32), Field("f64", .float64), Field("d", .decimal(precision: 12, scale: 3)),
        Field("day", .date), Field("clock", .time), Field("ts", .timestamp(withTimeZone: false)),
        Field("tstz", .timestamp(withTimeZone: true)), Field("u", .uuid), Field("j", .json), Field("raw", .bytes),
    ])
    static let jsonlSchema = Schema([
        Field("id", .int64), Field("name", .string), Field("meta", .json), Field("tags", .string),
        Field("price", .decimal(precision: 10, scale: 2)), Field("at", .timestamp(withTimeZone: true)),
        Field("list", .list(.int64)), Field("n", .numeric),
    ])

    /// A file format decoder over the input in two chunks.
    static func records(_ input: UnsafeRawBufferPointer, _ decoder: some RecordDecoder, schema: Schema) {
        var decoder = decoder
        var builder = BatchBuilder(schema: schema)
        let (a, b) = split(input)
        do {
            try decoder.decode(chunk: a, into: &builder)
            try decoder.decode(chunk: b, into: &builder)
            try decoder.finish(into: &builder)
            _ = builder.finish()
        } catch {}
    }
}
