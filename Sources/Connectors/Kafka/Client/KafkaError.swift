import CKafka
import Flow

/// librdkafka's error text for a code.
func kafkaErrorText(_ err: rd_kafka_resp_err_t) -> String {
    guard let text = rd_kafka_err2str(err) else { return "error \(err.rawValue)" }
    return String(validatingCString: text) ?? "error \(err.rawValue)"
}

/// The text of a NUL-terminated error buffer librdkafka filled.
func kafkaBufferText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
