import Benchmark
import Formats
import Flow

/// `Formats.CSVEncoder` writing the 64k-row batch of the row-hash suite (header + rows) into a
/// buffer reserved up front, as a sink's buffer would be. `bytes/s` counts CSV bytes written per second.
func csvEncodeBenchmarks() {
    Benchmark(
        "CSVEncode64kRows",
        configuration: .init(
            metrics: [.wallClock, .throughput, Fixtures.bytesPerSecond, .mallocCountTotal, .instructions],
            maxIterations: 30,
            setup: { _ = csvEncodeInput }
        )
    ) { benchmark in
        let batch = csvEncodeInput
        let encoder = CSVEncoder(schema: Fixtures.schema)
        var out: [UInt8] = []
        out.reserveCapacity(8 << 20)
        let clock = ContinuousClock()
        benchmark.startMeasurement()
        let start = clock.now
        encoder.encodeHeader(into: &out)
        encoder.encode(batch, into: &out)
        let elapsed = clock.now - start
        benchmark.stopMeasurement()
        blackHole(out)
        benchmark.measurement(Fixtures.bytesPerSecond, bytesPerSecond(out.count, elapsed))
    }
}

private let csvEncodeInput = Fixtures.batch(seed: 42)
