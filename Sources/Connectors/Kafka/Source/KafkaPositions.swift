import Flow

/// A topic's next offsets to read, per partition: the source's part of the checkpoint state,
/// stored as `{"topic": "...", "offsets": {"0": 120, "1": 98}}`.
struct KafkaPositions: Sendable, Equatable {
    var topic: String
    var offsets: [Int32: Int64]

    init(topic: String, offsets: [Int32: Int64] = [:]) {
        self.topic = topic
        self.offsets = offsets
    }

    /// Reads stored positions; positions of another topic (the manifest changed) are refused rather
    /// than silently reused.
    init?(_ value: StateValue?, topic: String) throws {
        guard let value, case .object(let o) = value, case .object(let offsets)? = o["offsets"] else { return nil }
        let stored = o["topic"]?.stringValue ?? topic
        guard stored == topic else {
            throw DponeError(
                .state, "the state holds offsets of topic \(stored), but the source reads \(topic)",
                hint: "reset the state (`dpone state reset`) to start the new topic from its start position",
                context: ["topic": topic])
        }
        var parsed: [Int32: Int64] = [:]
        for (k, v) in offsets {
            guard let p = Int32(k), let off = v.intValue else {
                throw DponeError(.state, "invalid kafka offset entry \(k) in the state", context: ["topic": topic])
            }
            parsed[p] = off
        }
        self.init(topic: topic, offsets: parsed)
    }

    var stateValue: StateValue {
        .object([
            "topic": .string(topic),
            "offsets": .object(Dictionary(uniqueKeysWithValues: offsets.map { (String($0.key), StateValue.int($0.value)) })),
        ])
    }

    var partitionOffsets: [KafkaPartitionOffset] {
        offsets.keys.sorted().map { KafkaPartitionOffset(topic: topic, partition: $0, offset: offsets[$0]!) }
    }
}
