import KafkaCodecs
import Testing

@Suite struct ConfluentWireTests {
    // Golden frames as Confluent's serializers (Java, confluent-kafka-python) write them.

    @Test func avroAndJSONHeadersAreMagicAndBigEndianID() throws {
        #expect(ConfluentWire.header(schemaID: 1, type: .avro) == [0, 0, 0, 0, 1])
        #expect(ConfluentWire.header(schemaID: 0x0102_0304, type: .json) == [0, 1, 2, 3, 4])
        #expect(ConfluentWire.header(schemaID: -1, type: .avro) == [0, 0xFF, 0xFF, 0xFF, 0xFF])

        let message: [UInt8] = [0, 0, 0, 0x01, 0x2C, 0x02, 0x61]  // id 300, Avro "a"
        let frame = try ConfluentWire.parse(message, type: .avro)
        #expect(frame == ConfluentWire.Frame(schemaID: 300, payload: 5..<7))
        #expect(Array(message[frame.payload]) == [0x02, 0x61])
        // No message indexes outside Protobuf, even when the payload starts with 0.
        #expect(try ConfluentWire.parse([0, 0, 0, 0, 7, 0, 1], type: .json).payload == 5..<7)
    }

    @Test func protobufFirstMessageIsTheSingleByteZero() throws {
        #expect(ConfluentWire.header(schemaID: 7, type: .protobuf) == [0, 0, 0, 0, 7, 0])
        #expect(ConfluentWire.header(schemaID: 7, type: .protobuf, messageIndexes: []) == [0, 0, 0, 0, 7, 0])
        let frame = try ConfluentWire.parse([0, 0, 0, 0, 7, 0, 0x08, 0x01], type: .protobuf)
        #expect(frame.messageIndexes == [0] && frame.payload == 6..<8 && frame.schemaID == 7)
        // An explicit [0] (count 1, index 0) is legal too.
        #expect(try ConfluentWire.parse([0, 0, 0, 0, 7, 2, 0], type: .protobuf).messageIndexes == [0])
        // An empty payload (a message with only default fields) is legal.
        #expect(try ConfluentWire.parse([0, 0, 0, 0, 7, 0], type: .protobuf).payload == 6..<6)
    }

    @Test func protobufFrameAsConfluentKafkaPythonWritesIt() throws {
        // ProtobufSerializer (confluent-kafka 2.16.1) output for {id: 2, name: "name-2", amount: "2.50",
        // created_at: 2024-01-02T03:04:07.123456Z}, schema id 13 (scripts/fakes/confluent_interop.py --raw).
        let hex = "000000000d00080212066e616d652d321a04322e3530220b08a7facdac06108094ef3a"
        let bytes = stride(from: 0, to: hex.count, by: 2).map { i -> UInt8 in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
        let frame = try ConfluentWire.parse(bytes, type: .protobuf)
        #expect(frame.schemaID == 13 && frame.messageIndexes == [0] && frame.payload == 6..<bytes.count)
        #expect(bytes[frame.payload.lowerBound] == 0x08)  // field 1 (id), varint
        #expect(Array(bytes[..<frame.payload.lowerBound]) == ConfluentWire.header(schemaID: 13, type: .protobuf))
    }

    @Test func protobufIndexesAreZigZagVarints() throws {
        // [1, 2]: count 2 → 4, 1 → 2, 2 → 4.
        #expect(ConfluentWire.header(schemaID: 1, type: .protobuf, messageIndexes: [1, 2]) == [0, 0, 0, 0, 1, 4, 2, 4])
        // [64]: zigzag 128 → two varint bytes.
        #expect(ConfluentWire.header(schemaID: 1, type: .protobuf, messageIndexes: [64]) == [0, 0, 0, 0, 1, 2, 0x80, 0x01])
        let frame = try ConfluentWire.parse([0, 0, 0, 0, 1, 4, 2, 4, 0xAA], type: .protobuf)
        #expect(frame.messageIndexes == [1, 2] && frame.payload == 8..<9)
        #expect(try ConfluentWire.parse([0, 0, 0, 0, 1, 2, 0x80, 0x01], type: .protobuf).messageIndexes == [64])
    }

    @Test func protobufRoundTripsArbitraryIndexes() throws {
        for indexes: [Int32] in [[3], [0, 0], [5, 0, 17], [Int32.max], [1, 200, 70_000]] {
            var out = ConfluentWire.header(schemaID: 123_456, type: .protobuf, messageIndexes: indexes)
            out += [1, 2, 3]
            let frame = try ConfluentWire.parse(out, type: .protobuf)
            #expect(frame.schemaID == 123_456 && frame.messageIndexes == indexes)
            #expect(Array(out[frame.payload]) == [1, 2, 3])
        }
    }

    @Test func shortMessagesAreRejected() {
        for message: [UInt8] in [[], [0], [0, 0, 0, 1]] {
            #expect(throws: CodecError.self) { try ConfluentWire.parse(message, type: .avro) }
        }
        let error = #expect(throws: CodecError.self) { try ConfluentWire.parse([0, 0, 0], type: .avro) }
        #expect(error?.message.contains("too short") == true)
        // Protobuf needs at least the index byte after the id.
        let noIndex = #expect(throws: CodecError.self) { try ConfluentWire.parse([0, 0, 0, 0, 1], type: .protobuf) }
        #expect(noIndex?.message.contains("truncated varint") == true)
    }

    @Test func wrongMagicByteIsRejected() {
        let error = #expect(throws: CodecError.self) { try ConfluentWire.parse([1, 0, 0, 0, 1, 2], type: .avro) }
        #expect(error?.message.contains("magic byte 1") == true)
        // A plain JSON payload (no framing) is caught by its first byte.
        #expect(throws: CodecError.self) { try ConfluentWire.parse(Array(#"{"id":1}"#.utf8), type: .json) }
    }

    @Test func badIndexArraysAreRejected() {
        func message(_ tail: [UInt8]) -> [UInt8] { [0, 0, 0, 0, 9] + tail }
        let cases: [(tail: [UInt8], says: String)] = [
            ([0x80], "truncated varint"),  // continuation bit, then nothing
            ([4, 2], "exceeds"),  // count 2, one byte left
            ([4, 2, 0x80], "truncated varint"),  // second index cut short
            ([0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "overflows"),  // 5th byte with more than 4 bits
            ([0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "overflows"),  // a sixth byte
            ([1, 0], "invalid Protobuf message-index count -1"),  // negative count
            ([2, 1], "negative Protobuf message index -1"),  // count 1, index -1
            ([0xC2, 0x9A, 0x0C, 0], "invalid Protobuf message-index count 100001"),  // count beyond the bound
        ]
        for (tail, says) in cases {
            let error = #expect(throws: CodecError.self, "\(tail)") {
                try ConfluentWire.parse(message(tail), type: .protobuf)
            }
            #expect(error?.message.contains(says) == true, "\(tail): \(error?.message ?? "")")
        }
    }

    @Test func schemaTypeNames() {
        #expect(SchemaType(registryName: "avro") == .avro && SchemaType(registryName: "PROTOBUF") == .protobuf)
        #expect(SchemaType(registryName: "JSON") == .json && SchemaType(registryName: "XML") == nil)
    }
}
