import Benchmark
import Formats
import Flow

/// `Formats.CSVDecoder` decoding ~16 MiB of in-memory CSV (header + 5 typed columns) into
/// batches as `FileSource` does: 64 KiB slices, a batch cut every 65,536 rows. `bytes/s` counts
/// CSV bytes read per second.
func csvDecodeBenchmarks() {
    Benchmark(
        "CSVDecode16MiB",
        configuration: .init(
            metrics: [.wallClock, .throughput, Fixtures.bytesPerSecond, .mallocCountTotal, .instructions],
            maxDuration: .seconds(5),
            maxIterations: 15,
            setup: { _ = csvInput }
        )
    ) { benchmark in
        let (csv, expectedRows) = csvInput
        let clock = ContinuousClock()
        benchmark.startMeasurement()
        let start = clock.now
        var decoder = CSVDecoder(schema: Fixtures.schema, sourceName: "bench.csv")
        var builder = BatchBuilder(schema: Fixtures.schema, reservingCapacity: Fixtures.rowsPerBatch)
        var rows = 0
        try csv.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let end = min(raw.count, offset + (64 << 10))
                try decoder.decode(chunk: UnsafeRawBufferPointer(rebasing: raw[offset..<end]), into: &builder)
                if builder.rowCount >= Fixtures.rowsPerBatch {
                    let batch = builder.finish()
                    rows += batch.rowCount
                    blackHole(batch)
                }
                offset = end
            }
        }
        try decoder.finish(into: &builder)
        let last = builder.finish()
        rows += last.rowCount
        blackHole(last)
        let elapsed = clock.now - start
        benchmark.stopMeasurement()
        precondition(rows == expectedRows, "decoded \(rows) rows, expected \(expectedRows)")
        benchmark.measurement(Fixtures.bytesPerSecond, bytesPerSecond(csv.count, elapsed))
    }
}

let csvInput = Fixtures.csv()
