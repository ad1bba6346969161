import Benchmark
import Flow
import Operators

/// `Operators.RowHash` over one 64k-row batch of the 5 mixed columns: SHA-256 of each row's canonical
/// encoding, hex-encoded into `__dpone__row_hash`. `bytes/s` counts the input batch's in-memory
/// bytes (`Batch.byteCount`: values, string offsets and bytes, validity bitmaps) per second.
func rowHashBenchmarks() {
    Benchmark(
        "RowHash64kRows",
        configuration: .init(
            metrics: [.wallClock, .throughput, Fixtures.bytesPerSecond, .mallocCountTotal, .instructions],
            maxIterations: 30,
            setup: { _ = rowHashInput }
        )
    ) { benchmark in
        let batch = rowHashInput
        let hash = Operators.RowHash()
        let clock = ContinuousClock()
        benchmark.startMeasurement()
        let start = clock.now
        let hashed = try hash.apply(batch)
        let elapsed = clock.now - start
        benchmark.stopMeasurement()
        blackHole(hashed)
        precondition(hashed.rowCount == batch.rowCount)
        benchmark.measurement(Fixtures.bytesPerSecond, bytesPerSecond(batch.byteCount, elapsed))
    }
}

private let rowHashInput = Fixtures.batch(seed: 42)

/// `bytes` over `elapsed`, as an integer rate.
func bytesPerSecond(_ bytes: Int, _ elapsed: Duration) -> Int {
    let (seconds, attoseconds) = elapsed.components
    let ns = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    return ns > 0 ? Int(Double(bytes) * 1e9 / ns) : 0
}
