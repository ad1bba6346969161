import ClickHouseConnector
import DponeTestSupport
import Testing

/// The seed corpora of the `clickhouse-native` and `clickhouse-compressed` fuzz targets are this
/// suite's goldens: Native blocks from both servers, and those blocks compressed every way.
@Suite struct ClickHouseFuzzSeedTests {
    @Test func nativeSeedsAreTheGoldenBlocks() throws {
        let seeds = [
            (name: "decoder-legacy", bytes: FuzzSeeds.moded(0, codecBytes(hex: CodecGolden.decoderLegacy))),
            (name: "decoder-modern", bytes: FuzzSeeds.moded(0, codecBytes(hex: CodecGolden.decoderModern))),
            (name: "decoder-modern-split", bytes: FuzzSeeds.moded(77, codecBytes(hex: CodecGolden.decoderModern))),
            (name: "encoder-legacy", bytes: FuzzSeeds.moded(0, codecBytes(hex: CodecGolden.encoderLegacy))),
            (name: "encoder-modern", bytes: FuzzSeeds.moded(0, codecBytes(hex: CodecGolden.encoderModern))),
        ]
        #expect(try FuzzSeeds.mismatches(target: "clickhouse-native", seeds) == [])
    }

    @Test func compressedSeedsAreTheGoldenBlocksCompressed() throws {
        let raw = codecBytes(hex: CodecGolden.decoderModern)
        let seeds = ClickHouseCompression.allCases.map { method in
            (name: "decoder-modern-\(method)", bytes: FuzzSeeds.moded(0, CompressedBlock.encode(raw, method: method)))
        }
        #expect(try FuzzSeeds.mismatches(target: "clickhouse-compressed", seeds) == [])
    }
}
