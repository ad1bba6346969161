import Benchmark

/// The entry point package-benchmark's generated `main` calls: registers every suite of this target.
/// Each suite lives in its own file.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        timeUnits: .microseconds,
        warmupIterations: 1,
        maxDuration: .seconds(3),
        maxIterations: 100,
        thresholds: Fixtures.thresholds
    )
    channelHopBenchmarks()
    rowHashBenchmarks()
    csvDecodeBenchmarks()
    csvEncodeBenchmarks()
}
