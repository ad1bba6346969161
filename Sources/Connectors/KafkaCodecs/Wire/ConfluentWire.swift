/// The kind of schema a Confluent Schema Registry holds (its `schemaType` field; absent means AVRO).
public enum SchemaType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case avro = "AVRO"
    case protobuf = "PROTOBUF"
    case json = "JSON"

    /// The registry's spelling (`AVRO`, `PROTOBUF`, `JSON`), case-insensitive; nil for anything else.
    public init?(registryName: String) {
        self.init(rawValue: registryName.uppercased())
    }

    public var description: String { rawValue }
}

/// The Confluent wire format that frames every Kafka key or value written with a schema registry
/// serializer (Java, librdkafka-based clients, confluent-kafka-python...):
///
///     byte 0      magic byte 0
///     bytes 1..4  schema id, 32-bit big-endian (signed, as the registry hands out)
///     Protobuf only: the message-index array locating the message type inside the .proto file:
///                 zigzag varint count, then count zigzag varint indexes; the single byte 0 stands
///                 for [0] (the first top-level message, by far the most common case)
///     rest        the payload (Avro binary, Protobuf binary, JSON text)
///
/// Pure and allocation-free when parsing Avro/JSON frames; errors are `CodecError`s that never carry
/// payload bytes.
public enum ConfluentWire {
    public static let magicByte: UInt8 = 0
    /// Magic byte + schema id.
    public static let headerSize = 5
    /// The longest message-index array accepted (confluent-kafka-python's bound); a corrupt count
    /// must not make us allocate gigabytes.
    public static let maxMessageIndexes = 100_000

    /// A parsed frame: what the payload was written with and where it lies in the message.
    public struct Frame: Sendable, Equatable {
        public var schemaID: Int32
        /// The Protobuf message indexes ([0] for the first top-level message); empty for Avro and
        /// JSON Schema frames.
        public var messageIndexes: [Int32]
        /// The payload's byte range in the parsed message.
        public var payload: Range<Int>

        public init(schemaID: Int32, messageIndexes: [Int32] = [], payload: Range<Int>) {
            self.schemaID = schemaID
            self.messageIndexes = messageIndexes
            self.payload = payload
        }
    }

    /// Parses the frame of `message`, a Kafka key or value. `type` says whether a message-index
    /// array follows the schema id (Protobuf only).
    public static func parse(_ message: UnsafeRawBufferPointer, type: SchemaType) throws(CodecError) -> Frame {
        guard message.count >= headerSize else {
            throw CodecError(
                "message of \(message.count) byte\(message.count == 1 ? "" : "s") is too short for the Confluent wire format (at least \(headerSize) bytes: magic byte and schema id)"
            )
        }
        guard message[0] == magicByte else {
            throw CodecError(
                "unknown magic byte \(message[0]) (the Confluent wire format starts with 0): the message was not written by a schema registry serializer"
            )
        }
        let id = UInt32(message[1]) << 24 | UInt32(message[2]) << 16 | UInt32(message[3]) << 8 | UInt32(message[4])
        var position = headerSize
        var indexes: [Int32] = []
        if type == .protobuf {
            let count = try readZigZag(message, &position, what: "message-index count")
            if count == 0 {
                indexes = [0]
            } else {
                guard count > 0, count <= maxMessageIndexes else {
                    throw CodecError("invalid Protobuf message-index count \(count)")
                }
                // Every index takes at least one byte: a count beyond what is left is corrupt.
                guard Int(count) <= message.count - position else {
                    throw CodecError(
                        "Protobuf message-index count \(count) exceeds the \(message.count - position) bytes left")
                }
                indexes.reserveCapacity(Int(count))
                for i in 0..<Int(count) {
                    let index = try readZigZag(message, &position, what: "message index \(i)")
                    guard index >= 0 else { throw CodecError("negative Protobuf message index \(index) at position \(i)") }
                    indexes.append(index)
                }
            }
        }
        return Frame(schemaID: Int32(bitPattern: id), messageIndexes: indexes, payload: position..<message.count)
    }

    /// Parses the frame of `message` (see `parse(_:type:)` for raw buffers).
    public static func parse(_ message: [UInt8], type: SchemaType) throws(CodecError) -> Frame {
        let result = message.withUnsafeBytes { raw -> Result<Frame, CodecError> in
            do throws(CodecError) { return .success(try parse(raw, type: type)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Appends the Avro / JSON Schema header (magic byte and schema id) to `out`.
    public static func writeHeader(schemaID: Int32, into out: inout [UInt8]) {
        let id = UInt32(bitPattern: schemaID)
        out.append(magicByte)
        out.append(UInt8(truncatingIfNeeded: id >> 24))
        out.append(UInt8(truncatingIfNeeded: id >> 16))
        out.append(UInt8(truncatingIfNeeded: id >> 8))
        out.append(UInt8(truncatingIfNeeded: id))
    }

    /// Appends the Protobuf header: magic byte, schema id and `messageIndexes` ([0], and the empty
    /// array, as the single byte 0). Indexes must not be negative.
    public static func writeHeader(schemaID: Int32, messageIndexes: [Int32], into out: inout [UInt8]) {
        writeHeader(schemaID: schemaID, into: &out)
        if messageIndexes.isEmpty || messageIndexes == [0] {
            out.append(0)
            return
        }
        precondition(messageIndexes.allSatisfy { $0 >= 0 }, "Protobuf message indexes are never negative")
        writeZigZag(Int32(messageIndexes.count), into: &out)
        for index in messageIndexes { writeZigZag(index, into: &out) }
    }

    /// The header for `type`: Protobuf frames carry `messageIndexes` (default [0]), the others none.
    public static func header(schemaID: Int32, type: SchemaType, messageIndexes: [Int32] = [0]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + 1)
        if type == .protobuf {
            writeHeader(schemaID: schemaID, messageIndexes: messageIndexes, into: &out)
        } else {
            writeHeader(schemaID: schemaID, into: &out)
        }
        return out
    }

    // MARK: zigzag varints (32-bit, at most 5 bytes, as Java's ByteUtils.readVarint)

    static func readZigZag(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, what: String) throws(CodecError)
        -> Int32
    {
        var raw: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            guard position < bytes.count else { throw CodecError("truncated varint in the Protobuf \(what)") }
            let byte = bytes[position]
            position += 1
            if shift == 28 && byte & 0xF0 != 0 {
                throw CodecError("varint in the Protobuf \(what) overflows 32 bits")
            }
            raw |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    static func writeZigZag(_ value: Int32, into out: inout [UInt8]) {
        var raw = UInt32(bitPattern: (value << 1) ^ (value >> 31))
        while raw >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: raw) | 0x80)
            raw >>= 7
        }
        out.append(UInt8(raw))
    }
}
