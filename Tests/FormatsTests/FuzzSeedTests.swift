import DponeTestSupport
import Testing

/// The seed corpora of the `csv` and `jsonl` fuzz targets are these suites' goldens, whole and split
/// in two chunks (the first byte of a seed picks the split).
@Suite struct FormatsFuzzSeedTests {
    @Test func csvSeedsAreTheEveryTypeGolden() throws {
        let text = Array(CSVDecoderTests.everyTypeText.utf8)
        let seeds = [UInt8(255), 60].map { (name: "every-type-split-\($0)", bytes: FuzzSeeds.moded($0, text)) }
        #expect(try FuzzSeeds.mismatches(target: "csv", seeds) == [])
    }

    @Test func jsonlSeedsAreTheByNameGolden() throws {
        let text = Array(JSONLinesTests.byNameText.utf8)
        let seeds = [UInt8(255), 40].map { (name: "by-name-split-\($0)", bytes: FuzzSeeds.moded($0, text)) }
        #expect(try FuzzSeeds.mismatches(target: "jsonl", seeds) == [])
    }
}
