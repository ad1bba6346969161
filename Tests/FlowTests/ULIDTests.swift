import Flow
import Foundation
import Testing

@Suite struct ULIDTests {
    @Test func hasTwentySixCrockfordCharacters() {
        let id = ULID.make()
        #expect(id.utf8.count == 26)
        let alphabet = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        #expect(id.allSatisfy { alphabet.contains($0) })
    }

    @Test func encodesTheMillisecondTimestamp() {
        let ms: UInt64 = 1_700_000_000_123
        let id = ULID.make(milliseconds: ms)
        #expect(ULID.milliseconds(of: id) == ms)
        #expect(ULID.make(milliseconds: 0).hasPrefix("0000000000"))
        #expect(ULID.make(milliseconds: (1 << 48) - 1).hasPrefix("7ZZZZZZZZZ"))
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        #expect(ULID.milliseconds(of: ULID.make(now: date)) == 1_700_000_000_500)
    }

    @Test func sortsByTimeAndIsRandomWithinAMillisecond() {
        let earlier = ULID.make(milliseconds: 1_000)
        let later = ULID.make(milliseconds: 1_001)
        #expect(earlier < later)
        let ids = Set((0..<1000).map { _ in ULID.make(milliseconds: 5) })
        #expect(ids.count == 1000)
    }

    @Test func rejectsNonULIDs() {
        #expect(ULID.milliseconds(of: "short") == nil)
        #expect(ULID.milliseconds(of: "8ZZZZZZZZZZZZZZZZZZZZZZZZZ") == nil)
        #expect(ULID.milliseconds(of: "0000000000000000000000000U") == nil)
    }
}
