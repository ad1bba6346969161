import Flow
import PostgresConnector
import Testing

/// pgoutput (protocol 1) messages captured once from PostgreSQL 15 by `PgOutputCaptureTests`'s
/// changes (`DPONE_PRINT_PGOUTPUT_HEX=1`), pasted here so the decoder is tested without a server.
/// Values of 3000 repeated bytes are written as `String(repeating:)`; every other byte is as captured.
enum PgOutputGolden {
    static let schema = "dpone_test_pgorow_2f4guafov5s31"
    static let items: UInt32 = 87493
    static let fulls: UInt32 = 87507
    static let x3000 = String(repeating: "78", count: 3000)
    static let y3000 = String(repeating: "79", count: 3000)

    static let begin = "4200000003355f89280003041aaf9cfb8c0000689f"
    static let commit = "430000000003355f892800000003355f89580003041aaf9cfb8c"
    static let itemsRelation =
        "52000155c564706f6e655f746573745f70676f726f775f326634677561666f7635733331006974656d730064000e0169640000000017ffffffff"
        + "006e616d650000000019ffffffff007174790000000014ffffffff00707269636500000006a4000a0006006f6b0000000010ffffffff"
        + "00626f726e000000043affffffff00617400000004a0ffffffff007473000000045affffffff007569640000000b86ffffffff"
        + "00646f630000000edaffffffff007261770000000011ffffffff00736d616c6c0000000015ffffffff00726174696f00000002bdffffffff"
        + "006269670000000019ffffffff"
    /// Row 1 without its last value (`big`).
    static let row1Head =
        "740000000131740000000668c3a96c6c6f740000000a39303030303030303030740000000531322e3334740000000174740000000a323032342d"
        + "30322d3239740000001d323032342d30352d30362030353a30383a30392e3132333435362b30307400000013323032342d30352d30362030373a"
        + "30383a3039740000002461306565626339392d396330622d346566382d626236642d366262396264333830613131740000000d7b2261223a205b"
        + "312c20325d7d74000000085c7830306666313074000000022d377400000003312e35"
    static let insertRow1 = "49000155c54e000e" + row1Head + "7400000bb8" + x3000
    static let insertRow2 = "49000155c54e000e7400000001326e6e6e7400000001666e6e6e6e6e6e6e6e6e"
    /// `UPDATE items SET qty = 5 WHERE id = 1`: `big` (TOASTed, untouched) is 'u'.
    static let updateUnchangedToast =
        "55000155c54e000e740000000131740000000668c3a96c6c6f740000000135740000000531322e3334740000000174740000000a323032342d"
        + "30322d3239740000001d323032342d30352d30362030353a30383a30392e3132333435362b30307400000013323032342d30352d3036203037"
        + "3a30383a3039740000002461306565626339392d396330622d346566382d626236642d366262396264333830613131740000000d7b2261223a"
        + "205b312c20325d7d74000000085c7830306666313074000000022d377400000003312e3575"
    /// `UPDATE items SET id = 10 WHERE id = 2`: the key changed, so the old key comes first ('K').
    static let updateKey =
        "55000155c54b000e7400000001326e6e6e6e6e6e6e6e6e6e6e6e6e4e000e740000000231306e6e6e7400000001666e6e6e6e6e6e6e6e6e"
    static let deleteKey = "44000155c54b000e740000000231306e6e6e6e6e6e6e6e6e6e6e6e6e"
    static let fullsRelation =
        "52000155d364706f6e655f746573745f70676f726f775f326634677561666f76357333310066756c6c73006600030169640000000017ffffffff"
        + "016e6f74650000000019ffffffff016269670000000019ffffffff"
    /// REPLICA IDENTITY FULL: the whole old row ('O', with the TOASTed value inline), then the new
    /// row with that value 'u'.
    static let updateFull =
        "55000155d34f00037400000001317400000001617400000bb8" + y3000 + "4e000374000000013174000000016275"
    static let deleteFull = "44000155d34f00037400000001317400000001627400000bb8" + y3000
    static let transactionalMessage =
        "4d0100000003355fc2a064706f6e655f746573745f70676f726f775f326634677561666f7635733331000000000568656c6c6f"
    static let plainMessage =
        "4d0000000003355fc36064706f6e655f746573745f70676f726f775f326634677561666f763573333100000000036e6f77"
    static let truncate = "540000000203000155c5000155d3"

    static var all: [String] {
        [
            begin, commit, itemsRelation, insertRow1, insertRow2, updateUnchangedToast, updateKey, deleteKey, fullsRelation,
            updateFull, deleteFull, transactionalMessage, plainMessage, truncate,
        ]
    }

    static let commitTime: Int64 = 1_795_622_392_093_580  // 2026-11-25 15:59:52.093580 UTC

    static let row1: [PgOutputValue] = [
        .text("1"), .text("héllo"), .text("9000000000"), .text("12.34"), .text("t"), .text("2024-02-29"),
        .text("2024-05-06 05:08:09.123456+00"), .text("2024-05-06 07:08:09"), .text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        .text(#"{"a": [1, 2]}"#), .text("\\x00ff10"), .text("-7"), .text("1.5"), .text(String(repeating: "x", count: 3000)),
    ]

    static let itemsShape = PgOutputRelation(
        id: items, namespace: schema, name: "items", replicaIdentity: .default,
        columns: [
            .init(key: true, "id", oid: 23), .init("name", oid: 25), .init("qty", oid: 20),
            .init("price", oid: 1700, typmod: 655_366), .init("ok", oid: 16), .init("born", oid: 1082),
            .init("at", oid: 1184), .init("ts", oid: 1114), .init("uid", oid: 2950), .init("doc", oid: 3802),
            .init("raw", oid: 17), .init("small", oid: 21), .init("ratio", oid: 701), .init("big", oid: 25),
        ])
}

struct PgOutputDecoderTests {
    typealias G = PgOutputGolden

    func decode(_ hexText: String) throws -> PgOutputMessage {
        try PgOutputDecoder.decode(bytes(hex: hexText))
    }

    @Test func beginAndCommit() throws {
        #expect(
            try decode(G.begin)
                == .begin(.init(finalLSN: LSN("3/355F8928")!, commitTime: G.commitTime, xid: 26783)))
        #expect(
            try decode(G.commit)
                == .commit(
                    .init(flags: 0, commitLSN: LSN("3/355F8928")!, endLSN: LSN("3/355F8958")!, commitTime: G.commitTime)))
    }

    @Test func relations() throws {
        #expect(try decode(G.itemsRelation) == .relation(G.itemsShape))
        guard case .relation(let items) = try decode(G.itemsRelation) else { Issue.record("not a relation"); return }
        #expect(items.keyColumns == ["id"])
        #expect(items.columns[3].typmod == (10 << 16 | 2) + 4)
        #expect(PostgresTypes.decimalType(typmod: items.columns[3].typmod) == .decimal(precision: 10, scale: 2))
        #expect(
            try decode(G.fullsRelation)
                == .relation(
                    PgOutputRelation(
                        id: G.fulls, namespace: G.schema, name: "fulls", replicaIdentity: .full,
                        columns: [
                            .init(key: true, "id", oid: 23), .init(key: true, "note", oid: 25), .init(key: true, "big", oid: 25),
                        ])))
    }

    @Test func insertsWithValuesAndNulls() throws {
        #expect(try decode(G.insertRow1) == .insert(.init(relationID: G.items, new: PgOutputTuple(G.row1))))
        let row2: [PgOutputValue] = [.text("2"), .null, .null, .null, .text("f")] + Array(repeating: .null, count: 9)
        #expect(try decode(G.insertRow2) == .insert(.init(relationID: G.items, new: PgOutputTuple(row2))))
        guard case .insert(let insert) = try decode(G.insertRow1) else { Issue.record("not an insert"); return }
        #expect(insert.new.count == 14)
        #expect(insert.new.kind(at: 1) == .text)
        #expect(insert.new.withValue(at: 1) { String(decoding: $0, as: UTF8.self) } == "héllo")
        #expect(insert.new.withValue(at: 13) { $0.count } == 3000)
    }

    @Test func updates() throws {
        var updated = G.row1
        updated[2] = .text("5")
        updated[13] = .unchangedToast
        #expect(try decode(G.updateUnchangedToast) == .update(.init(relationID: G.items, old: nil, new: PgOutputTuple(updated))))
        #expect(
            try decode(G.updateKey)
                == .update(
                    .init(
                        relationID: G.items, old: .key(PgOutputTuple([.text("2")] + Array(repeating: .null, count: 13))),
                        new: PgOutputTuple(
                            [.text("10"), .null, .null, .null, .text("f")] + Array(repeating: .null, count: 9)))))
        let y = PgOutputValue.text(String(repeating: "y", count: 3000))
        #expect(
            try decode(G.updateFull)
                == .update(
                    .init(
                        relationID: G.fulls, old: .full(PgOutputTuple([.text("1"), .text("a"), y])),
                        new: PgOutputTuple([.text("1"), .text("b"), .unchangedToast]))))
    }

    @Test func deletes() throws {
        #expect(
            try decode(G.deleteKey)
                == .delete(.init(relationID: G.items, old: .key(PgOutputTuple([.text("10")] + Array(repeating: .null, count: 13))))))
        #expect(
            try decode(G.deleteFull)
                == .delete(
                    .init(
                        relationID: G.fulls,
                        old: .full(PgOutputTuple([.text("1"), .text("b"), .text(String(repeating: "y", count: 3000))])))))
    }

    @Test func messagesAndTruncate() throws {
        #expect(
            try decode(G.transactionalMessage)
                == .message(.init(transactional: true, lsn: LSN("3/355FC2A0")!, prefix: G.schema, content: Array("hello".utf8))))
        #expect(
            try decode(G.plainMessage)
                == .message(.init(transactional: false, lsn: LSN("3/355FC360")!, prefix: G.schema, content: Array("now".utf8))))
        let truncate = try decode(G.truncate)
        #expect(truncate == .truncate(.init(options: 3, relationIDs: [G.items, G.fulls])))
        if case .truncate(let t) = truncate {
            #expect(t.cascade)
            #expect(t.restartIdentity)
        }
    }

    /// Messages no capture above produced, built by hand: Origin, Type, a binary value.
    @Test func originTypeAndBinaryValue() throws {
        #expect(
            try decode("4f" + "0000000100000002" + hex(Array("node_a".utf8)) + "00")
                == .origin(.init(commitLSN: LSN(0x1_0000_0002), name: "node_a")))
        #expect(
            try decode("59" + "00004001" + hex(Array("public".utf8)) + "00" + hex(Array("mood".utf8)) + "00")
                == .type(.init(oid: 0x4001, namespace: "public", name: "mood")))
        #expect(
            try decode("49" + "00000010" + "4e" + "0001" + "62" + "00000004" + "0000002a")
                == .insert(.init(relationID: 16, new: PgOutputTuple([.binary([0, 0, 0, 42])]))))
    }

    /// Every strict prefix of every golden message fails with an offset inside it; nothing traps.
    @Test func truncatedMessagesThrowWithTheirOffset() throws {
        for text in G.all {
            let message = bytes(hex: text)
            for length in 0..<message.count {
                do {
                    _ = try PgOutputDecoder.decode(Array(message[..<length]))
                    Issue.record("a \(length)-byte prefix of \(text.prefix(16))... decoded")
                } catch {
                    #expect(error.offset >= 0 && error.offset <= length)
                }
            }
        }
    }

    @Test func malformedMessagesName() throws {
        func failure(_ hexText: String) -> PgOutputDecodingError? {
            do {
                _ = try PgOutputDecoder.decode(bytes(hex: hexText))
                return nil
            } catch { return error }
        }
        #expect(failure("5a") == PgOutputDecodingError(offset: 0, message: "unknown pgoutput message type 'Z'"))
        #expect(failure("")?.offset == 0)
        // Trailing byte after a complete truncate.
        #expect(failure(G.truncate + "00") == PgOutputDecodingError(offset: 14, message: "1 unexpected bytes after the message"))
        // Unknown tuple value kind 'x' for column 1.
        #expect(failure("49000155c54e0001" + "78")?.offset == 8)
        // Negative value length.
        #expect(failure("49000155c54e0001" + "74ffffffff")?.message.contains("negative") == true)
        // A length beyond the message.
        #expect(failure("49000155c54e0001" + "747fffffff00")?.offset == 13)
        // Insert without 'N'.
        #expect(failure("49000155c54b0000") == PgOutputDecodingError(offset: 5, message: "expected the new tuple marker 'N', found 'K'"))
        // Delete with 'N' instead of 'K'/'O'.
        #expect(failure("44000155c54e0000")?.offset == 5)
        // Relation name without its NUL.
        #expect(failure("52000155c5" + "61")?.message.contains("NUL") == true)
        // Negative column and relation counts.
        #expect(failure("49000155c54effff")?.offset == 6)
        #expect(failure("54ffffffff00")?.offset == 1)
        #expect(failure("52000155c5" + "00" + "00" + "64" + "8000")?.offset == 8)
    }

    /// Random corruption of golden messages never traps (it decodes or throws).
    @Test func corruptedMessagesNeverTrap() {
        var generator = SplitMix(seed: 0x5EED)
        let messages = G.all.map { bytes(hex: $0) }
        for _ in 0..<20_000 {
            var message = messages[Int(generator.next() % UInt64(messages.count))]
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let at = Int(generator.next() % UInt64(message.count))
                message[at] = UInt8(truncatingIfNeeded: generator.next())
            }
            if generator.next() % 4 == 0 { message = Array(message.prefix(Int(generator.next() % UInt64(message.count + 1)))) }
            _ = try? PgOutputDecoder.decode(message)
            _ = try? ReplicationFrame.decode(message)
        }
    }

    @Test func tupleEqualityIgnoresStorage() throws {
        guard case .insert(let a) = try decode(G.insertRow2) else { Issue.record("not an insert"); return }
        let b = PgOutputTuple([.text("2"), .null, .null, .null, .text("f")] + Array(repeating: .null, count: 9))
        #expect(a.new == b)
        #expect(a.new.hashValue == b.hashValue)
        #expect(a.new.description.hasPrefix("('2', NULL, NULL, NULL, 'f'"))
    }
}

struct SplitMix {
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
