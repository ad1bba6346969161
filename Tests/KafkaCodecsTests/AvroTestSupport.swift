import Flow
import KafkaCodecs

/// Helpers shared by the Avro test files.
enum AvroFixture {
    /// A record schema named `test.Row` with the given fields JSON (`{"name":..,"type":..}`, ...).
    static func record(_ fields: String) -> String {
        #"{"type":"record","name":"Row","namespace":"test","fields":[\#(fields)]}"#
    }

    /// A record with one field `v` of type `type` (schema JSON).
    static func single(_ type: String) -> String { record(#"{"name":"v","type":\#(type)}"#) }

    static func decoder(_ writer: String, reader: String? = nil) throws -> AvroDecoder {
        let w = try AvroSchema(parsing: writer)
        return try AvroDecoder(writer: w, reader: try reader.map { try AvroSchema(parsing: $0) } ?? w)
    }

    /// Decodes every payload as one row and returns the batch.
    static func decode(_ decoder: AvroDecoder, _ payloads: [[UInt8]]) throws -> Batch {
        var builder = BatchBuilder(schema: decoder.schema)
        for p in payloads {
            try p.withUnsafeBytes { try decoder.decode($0, into: &builder.columns) }
        }
        return builder.finish()
    }

    /// The single row `payload` decodes to.
    static func row(_ writer: String, _ payload: [UInt8], reader: String? = nil) throws -> [Value] {
        try decode(try decoder(writer, reader: reader), [payload]).row(0)
    }

    /// The value of field `v` of a `single(type)` record.
    static func value(_ type: String, _ payload: [UInt8], reader: String? = nil) throws -> Value {
        try row(single(type), payload, reader: reader.map(single)).first ?? .null
    }

    /// The error decoding `payload` throws, or nil when it decodes. Builders are rolled back the way
    /// a source would, and the rollback is checked to leave every column at the same row count.
    static func error(_ decoder: AvroDecoder, _ payload: [UInt8]) -> CodecError? {
        var builder = BatchBuilder(schema: decoder.schema)
        do {
            try payload.withUnsafeBytes { try decoder.decode($0, into: &builder.columns) }
            return nil
        } catch let e as CodecError {
            for i in builder.columns.indices { builder.columns[i].truncate(to: 0) }
            return e
        } catch {
            return CodecError("not a CodecError: \(error)")
        }
    }

    static func error(_ writer: String, _ payload: [UInt8], reader: String? = nil) throws -> CodecError? {
        error(try decoder(writer, reader: reader), payload)
    }

    /// Zig-zag varint bytes of `v`, written independently of the codec's writer.
    static func zigzag(_ v: Int64) -> [UInt8] {
        var z = UInt64(bitPattern: v) << 1 ^ UInt64(bitPattern: v >> 63)
        var out: [UInt8] = []
        repeat {
            let b = UInt8(z & 0x7F)
            z >>= 7
            out.append(z == 0 ? b : b | 0x80)
        } while z != 0
        return out
    }

    static func string(_ s: String) -> [UInt8] { zigzag(Int64(s.utf8.count)) + Array(s.utf8) }
}

/// A deterministic generator so fuzz failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
