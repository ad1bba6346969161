import Benchmark
import Flow

/// The cost of moving one batch across one bounded channel (send + receive), the price every
/// graph edge adds per batch. Independent of batch size: batches are passed by reference.
/// Each iteration sends 1,000 batches (`scalingFactor: .kilo`) to a concurrently draining consumer;
/// results marked `*` are per batch.
func channelHopBenchmarks() {
    let schema = Schema([Field("id", .int64, nullable: false)])
    var builder = BatchBuilder(schema: schema)
    for i in 0..<1024 { builder.columns[0].append(Int64(i)) }
    let batch = builder.finish()

    Benchmark(
        "ChannelHopPerBatch",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal, .instructions],
            timeUnits: .nanoseconds,
            scalingFactor: .kilo
        )
    ) { benchmark in
        let (sender, receiver) = BatchChannel.make(name: "bench", bounds: ChannelBounds(byteLimit: 64 << 20, maxBatches: 256))
        async let consumed: Int = {
            var n = 0
            while let _ = try await receiver.next() { n += 1 }
            return n
        }()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try await sender.send(.batch(batch)) }
        sender.finish()
        let n = try await consumed
        benchmark.stopMeasurement()
        precondition(n == benchmark.scaledIterations.count)
    }
}
