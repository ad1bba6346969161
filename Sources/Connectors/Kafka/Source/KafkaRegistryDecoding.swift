import Flow

/// Registry-backed value decoding (Avro, Protobuf, JSON Schema): the subject's latest schema gives
/// the columns; each message's writer schema (by id) is resolved into them.
enum KafkaRegistryDecoding {
    static func prepare(options: KafkaSourceOptions) async throws -> (Schema, any WireDecoderSource) {
        throw DponeError(.usage, "format \(options.format.rawValue) is not wired to the schema registry yet")
    }
}
