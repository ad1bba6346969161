import Benchmark
import Formats
import Flow

/// Shared, deterministic inputs for the suites (built once per process, outside the measurement).
enum Fixtures {
    /// Bytes processed per second of wall clock, measured inside each iteration.
    /// `useScalingFactor: false`: already a rate, not a per-iteration count.
    static let bytesPerSecond = BenchmarkMetric.custom("bytes/s", polarity: .prefersLarger, useScalingFactor: false)

    /// Tolerance applied by `thresholds check` against Thresholds/*.p90.json. Only mallocCountTotal is
    /// kept there (the other metrics vary with the machine and its load): a p90 within 8 allocations
    /// per iteration of the recorded one is EQUAL; a per-row or per-hop allocation shows up as
    /// thousands. Absolute only: the relative check would flag small counts (CSV decode: ~320).
    static var thresholds: [BenchmarkMetric: BenchmarkThresholds] {
        [.mallocCountTotal: .init(absolute: [.p90: 8])]
    }

    static let rowsPerBatch = 65_536

    /// The 5 typed columns every data suite uses.
    static let schema = Schema([
        Field("id", .int64, nullable: false),
        Field("name", .string),
        Field("amount", .decimal(precision: 12, scale: 2)),
        Field("updated_at", .timestamp(withTimeZone: true)),
        Field("active", .bool),
    ])

    /// One 64k-row batch: int64 ids, ~20-byte strings (1 in 32 holds a comma, so it is quoted in CSV),
    /// decimal(12,2) amounts, timestamptz values over ~1 year, bools; ~2% NULLs in nullable columns.
    static func batch(seed: UInt64 = 1, rows: Int = rowsPerBatch, firstID: Int64 = 1) -> Batch {
        var rng = SplitMix64(seed: seed)
        var builder = BatchBuilder(schema: schema, reservingCapacity: rows)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        var name: [UInt8] = []
        for i in 0..<rows {
            let r = rng.next()
            builder.columns[0].append(firstID + Int64(i))
            if r % 50 == 0 {
                builder.columns[1].appendNull()
            } else {
                name.removeAll(keepingCapacity: true)
                name.append(contentsOf: "customer ".utf8)
                let extra = 9 + Int((r >> 8) % 5)  // 18..22 bytes in all
                var bits = rng.next()
                for _ in 0..<extra {
                    name.append(alphabet[Int(bits % UInt64(alphabet.count))])
                    bits /= UInt64(alphabet.count)
                    if bits == 0 { bits = rng.next() }
                }
                if (r >> 16) % 32 == 0 { name[4] = UInt8(ascii: ",") }
                builder.columns[1].append(bytes: name)
            }
            if (r >> 20) % 50 == 0 {
                builder.columns[2].appendNull()
            } else {
                builder.columns[2].append(Int128(Int64(bitPattern: rng.next()) % 10_000_000_000))
            }
            if (r >> 28) % 50 == 0 {
                builder.columns[3].appendNull()
            } else {
                // 2026-01-01T00:00:00Z plus up to ~1 year, µs resolution.
                builder.columns[3].append(Int64(1_767_225_600_000_000) + Int64(rng.next() % 31_536_000_000_000))
            }
            if (r >> 36) % 50 == 0 {
                builder.columns[4].appendNull()
            } else {
                builder.columns[4].append((r >> 40) & 1 == 1)
            }
        }
        return builder.finish()
    }

    /// ~16 MiB of CSV (header + rows) written by `CSVEncoder` from distinct 64k-row batches, so
    /// `CSVDecoder` reads it back by construction.
    static func csv(targetBytes: Int = 16 << 20) -> (bytes: [UInt8], rows: Int) {
        let encoder = CSVEncoder(schema: schema)
        var out: [UInt8] = []
        out.reserveCapacity(targetBytes + (4 << 20))
        encoder.encodeHeader(into: &out)
        var rows = 0
        var seed: UInt64 = 1
        while out.count < targetBytes {
            let b = batch(seed: seed, firstID: Int64(rows) + 1)
            // Only the rows needed to reach the target, to land close to it.
            for row in 0..<b.rowCount where out.count < targetBytes {
                encoder.encode(b, rows: row..<(row + 1), into: &out)
                rows += 1
            }
            seed += 1
        }
        return (out, rows)
    }
}

/// A tiny deterministic PRNG (SplitMix64) so inputs are identical on every run and machine.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
