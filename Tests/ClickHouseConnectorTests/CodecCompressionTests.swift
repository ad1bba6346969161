import ClickHouseConnector
import Flow
import Testing

@Suite struct CodecCompressionTests {
    /// CityHash128 v1.0.2 vectors (low, high) published with an independent ClickHouse-compatible
    /// implementation (ch_cityhash102), generated there by a binary calling ClickHouse's C++ code.
    @Test(arguments: [
        ("", UInt64(4_463_240_938_071_824_939), UInt64(4_374_473_821_787_594_281)),
        ("1", 6_359_294_370_932_160_835, 9_352_172_043_616_825_891),
        ("123", 11_385_344_155_619_871_181, 565_130_349_297_615_695),
        ("12345678", 2_123_262_123_519_760_883, 8_251_334_461_883_709_976),
        ("1234567890Ab", 3_349_064_628_685_767_173, 12_952_593_207_096_460_945),
        ("1234567890AbcDEF", 15_073_733_098_592_741_404, 5_913_034_415_582_713_572),
        ("this is somewhat long string", 2_957_911_805_285_034_456, 6_923_665_615_086_076_251),
        ("DMqhuXQxgAmJ9EOkT1n2lpzu7YD6zKc6ESSDWfJfohaQDwu0ba61bfGMiuS5GXpr0bIVcCtLwRtIVGmK",
            9_681_404_383_092_874_918, 15_631_953_994_107_571_989),
    ])
    func cityHash128MatchesKnownVectors(text: String, low: UInt64, high: UInt64) {
        #expect(CityHash128.hash(Array(text.utf8)) == CityHash128.Value(low: low, high: high))
    }

    @Test func cityHash128BinaryVector() {
        let data: [UInt8] = Array(
            "\u{e4}x\u{98}\u{a4}*\u{d7}\u{dc}\u{02}p.\u{de}I$\u{9f}p\u{d4}\u{e3}\u{d7}\u{e7}L\u{86}<5h75\u{df}0B\u{16}\u{e0}\u{86}\u{be}P\u{b1}rL\u{8b}\u{07}\u{14}!\u{9e}\u{f5}\u{e0}\u{9c}N\u{a5}\u{fd}J]\u{d8}J\u{c1}\u{c2}.\u{e6}\u{ae}\u{14}\u{ad}^sW\u{15}&"
                .unicodeScalars.map { UInt8($0.value) })
        #expect(data.count == 64)
        #expect(CityHash128.hash(data) == CityHash128.Value(low: 5_907_140_908_903_622_203, high: 10_088_853_506_155_899_265))
    }

    /// A block that ClickHouse 18.16 accepted with `decompress=1` (see CodecServerTests): long inputs
    /// (≥ 128 bytes, the main loop and tail of the hash) are covered by the server check.
    @Test func framesABlockAsClickHouseDoes() {
        let raw = Array("hello".utf8)
        let block = CompressedBlock.encode(raw, method: .none)
        #expect(block.count == 16 + 9 + 5)
        #expect(Array(block[16..<25]) == [0x02, 14, 0, 0, 0, 5, 0, 0, 0])
        #expect(Array(block[25...]) == raw)
        #expect(Array(block[0..<16]) == CityHash128.hash(Array(block[16...])).checksumBytes)
    }

    @Test(arguments: ClickHouseCompression.allCases)
    func roundTripsEveryMethodInAnyChunking(method: ClickHouseCompression) throws {
        var raw: [UInt8] = []
        for i in 0..<50_000 { raw.append(UInt8(truncatingIfNeeded: i % 251 &* (i / 1000))) }
        var stream: [UInt8] = []
        raw.withUnsafeBytes { CompressedBlock.encode($0, method: method, blockSize: 16_384, into: &stream) }
        if method != .none { #expect(stream.count < raw.count) }
        for chunk in [1, 7, 25, 4096, stream.count] {
            var decoder = CompressedBlockDecoder()
            var out: [UInt8] = []
            var start = 0
            while start < stream.count {
                let end = min(stream.count, start + chunk)
                try decoder.decode(Array(stream[start..<end]), into: &out)
                start = end
            }
            try decoder.finish()
            #expect(out == raw)
            #expect(decoder.blocksDecoded == 4)
        }
    }

    @Test func detectsCorruption() throws {
        let block = CompressedBlock.encode(Array(repeating: 7, count: 1000), method: .lz4)
        for position in [3, 16, 20, block.count - 1] {
            var bad = block
            bad[position] ^= 0x40
            var decoder = CompressedBlockDecoder()
            var out: [UInt8] = []
            #expect(throws: DponeError.self) {
                try decoder.decode(bad, into: &out)
                try decoder.finish()
            }
        }
    }

    @Test func truncatedStreamFails() throws {
        let block = CompressedBlock.encode(Array(repeating: 1, count: 100), method: .zstd)
        var decoder = CompressedBlockDecoder()
        var out: [UInt8] = []
        try decoder.decode(Array(block.dropLast()), into: &out)
        #expect(out.isEmpty)
        #expect(throws: DponeError.self) { try decoder.finish() }
    }
}
