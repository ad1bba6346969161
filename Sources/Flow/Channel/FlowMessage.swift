/// What travels over a channel: data or a checkpoint barrier. End of stream is the channel finishing;
/// a failure upstream finishes it with the error.
public enum FlowMessage: Sendable {
    case batch(Batch)
    case barrier(CheckpointID)

    /// The weight of the message against the channel's byte bound.
    var byteCount: Int {
        switch self {
        case .batch(let b): b.byteCount
        case .barrier: 0
        }
    }
}

/// The bounds of one channel.
///
/// A sender is suspended once the buffered weight reaches `byteLimit`; each message weighs
/// `max(bytes, byteLimit / maxBatches)`, so at most `maxBatches` messages are buffered too.
/// The message that crosses the limit is admitted, so the buffered bytes never exceed
/// `byteLimit` plus the largest single batch.
public struct ChannelBounds: Sendable, Hashable {
    public var byteLimit: Int
    public var maxBatches: Int

    public init(byteLimit: Int = 16 << 20, maxBatches: Int = 8) {
        precondition(byteLimit > 0 && maxBatches > 0)
        self.byteLimit = byteLimit
        self.maxBatches = maxBatches
    }

    public static let `default` = ChannelBounds()

    func weight(_ bytes: Int) -> Int { max(bytes, max(1, byteLimit / maxBatches)) }
}
