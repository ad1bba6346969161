import DponeTestSupport
import Testing

/// The seed corpora of the `pgoutput` and `copy-binary` fuzz targets are these suites' goldens.
@Suite struct PostgresFuzzSeedTests {
    @Test func pgoutputSeedsAreTheGoldenMessages() throws {
        let seeds = PgOutputGolden.all.enumerated().map { (name: "message-\($0.offset)", bytes: bytes(hex: $0.element)) }
        #expect(try FuzzSeeds.mismatches(target: "pgoutput", seeds) == [])
    }

    @Test func copyBinarySeedsAreTheGoldenStreamWholeAndSplit() throws {
        let stream = CopyBinaryGolden.stream
        let seeds = [UInt8(0), 19, 255].map { (name: "stream-split-\($0)", bytes: FuzzSeeds.moded($0, stream)) }
        #expect(try FuzzSeeds.mismatches(target: "copy-binary", seeds) == [])
    }
}
