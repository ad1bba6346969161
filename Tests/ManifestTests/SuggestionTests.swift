@testable import Manifest
import Testing

@Suite struct SuggestionTests {
    @Test func distanceCountsTranspositionsOnce() {
        #expect(Suggestion.distance("uniqe_key", "unique_key") == 1)
        #expect(Suggestion.distance("mdoe", "mode") == 1)
        #expect(Suggestion.distance("", "abc") == 3)
        #expect(Suggestion.distance("same", "same") == 0)
    }

    @Test func nearestWithinTwoEditsOrByPrefix() {
        let keys = ["mode", "unique_key", "only_new_rows", "overwrite_type"]
        #expect(Suggestion.nearest(to: "uniqe_key", in: keys) == "unique_key")
        #expect(Suggestion.nearest(to: "Mode", in: keys) == "mode")
        #expect(Suggestion.nearest(to: "overwrite", in: keys) == "overwrite_type")
        #expect(Suggestion.nearest(to: "schedule", in: keys) == nil)
        #expect(Suggestion.nearest(to: "strng", in: ["string", "bytes"]) == "string")
    }
}
