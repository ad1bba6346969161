import KafkaCodecs
import Testing

@Suite struct CodecErrorTests {
    @Test func pathsNestOutward() {
        let inner = CodecError("expected a long", path: "price")
        #expect(inner.within("items[2]").description == "items[2].price: expected a long")
        #expect(CodecError("bad index", path: "[3]").within("tags").path == "tags[3]")
        #expect(CodecError("truncated").within("order").description == "order: truncated")
    }
}
