import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// pgoutput messages captured from the real server (`pg_logical_slot_peek_binary_changes`), decoded
/// and checked exactly: every message type of protocol 1 that a table change produces, unchanged
/// TOAST, key and full old tuples, NULLs, truncate of two tables and logical decoding messages.
/// Its slots decode a database of their own (`PostgresTestServer.isolatedDatabase`), one test at a time.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait, .serialized)
struct PgOutputCaptureTests {
    static let database = "dpone_test_pgoutput"

    /// The two tables and the changes every test here captures.
    static func setUp(_ conn: PostgresConnection, _ schema: String) async throws -> (items: UInt32, fulls: UInt32) {
        let items = PostgresSQL.qualifiedName(schema: schema, name: "items")
        let fulls = PostgresSQL.qualifiedName(schema: schema, name: "fulls")
        try await conn.execute(
            """
            CREATE TABLE \(items) (
                id int PRIMARY KEY, name text, qty int8, price numeric(10,2), ok bool, born date, at timestamptz,
                ts timestamp, uid uuid, doc jsonb, raw bytea, small int2, ratio float8, big text);
            ALTER TABLE \(items) ALTER COLUMN big SET STORAGE EXTERNAL;
            CREATE TABLE \(fulls) (id int, note text, big text);
            ALTER TABLE \(fulls) REPLICA IDENTITY FULL;
            ALTER TABLE \(fulls) ALTER COLUMN big SET STORAGE EXTERNAL;
            """)
        let oids = try await conn.query("SELECT $1::regclass::oid::text, $2::regclass::oid::text", parameters: [items, fulls])
        return (UInt32(oids[0][0]!)!, UInt32(oids[0][1]!)!)
    }

    static func changes(_ schema: String) -> [String] {
        let items = PostgresSQL.qualifiedName(schema: schema, name: "items")
        let fulls = PostgresSQL.qualifiedName(schema: schema, name: "fulls")
        return [
            """
            INSERT INTO \(items) VALUES
              (1, 'héllo', 9000000000, 12.34, true, '2024-02-29', '2024-05-06 07:08:09.123456+02', '2024-05-06 07:08:09',
               'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '\\x00ff10', -7, 1.5, repeat('x', 3000)),
              (2, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
            """,
            "UPDATE \(items) SET qty = 5 WHERE id = 1",
            "UPDATE \(items) SET id = 10 WHERE id = 2",
            "DELETE FROM \(items) WHERE id = 10",
            "INSERT INTO \(fulls) VALUES (1, 'a', repeat('y', 3000))",
            "UPDATE \(fulls) SET note = 'b'",
            "DELETE FROM \(fulls)",
            "SELECT pg_logical_emit_message(true, '\(schema)', 'hello')",
            "SELECT pg_logical_emit_message(false, '\(schema)', 'now')",
            "TRUNCATE \(items), \(fulls) RESTART IDENTITY CASCADE",
        ]
    }

    static let row1: [PgOutputValue] = [
        .text("1"), .text("héllo"), .text("9000000000"), .text("12.34"), .text("t"), .text("2024-02-29"),
        .text("2024-05-06 05:08:09.123456+00"), .text("2024-05-06 07:08:09"), .text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        .text(#"{"a": [1, 2]}"#), .text("\\x00ff10"), .text("-7"), .text("1.5"), .text(String(repeating: "x", count: 3000)),
    ]
    static let row2: [PgOutputValue] = [.text("2"), .null, .null, .null, .text("f")] + Array(repeating: .null, count: 9)

    static func itemsRelation(_ id: UInt32, _ schema: String) -> PgOutputRelation {
        PgOutputRelation(
            id: id, namespace: schema, name: "items", replicaIdentity: .default,
            columns: [
                .init(key: true, "id", oid: 23), .init("name", oid: 25), .init("qty", oid: 20),
                .init("price", oid: 1700, typmod: (10 << 16 | 2) + 4), .init("ok", oid: 16), .init("born", oid: 1082),
                .init("at", oid: 1184), .init("ts", oid: 1114), .init("uid", oid: 2950), .init("doc", oid: 3802),
                .init("raw", oid: 17), .init("small", oid: 21), .init("ratio", oid: 701), .init("big", oid: 25),
            ])
    }

    static func fullsRelation(_ id: UInt32, _ schema: String) -> PgOutputRelation {
        // Under REPLICA IDENTITY FULL every column is flagged as part of the key.
        PgOutputRelation(
            id: id, namespace: schema, name: "fulls", replicaIdentity: .full,
            columns: [.init(key: true, "id", oid: 23), .init(key: true, "note", oid: 25), .init(key: true, "big", oid: 25)])
    }

    /// The messages with transaction-specific fields (LSNs, times, xids) zeroed.
    static func expected(items: UInt32, fulls: UInt32, schema: String) -> [PgOutputMessage] {
        let begin = PgOutputMessage.begin(.init(finalLSN: .invalid, commitTime: 0, xid: 0))
        let commit = PgOutputMessage.commit(.init(commitLSN: .invalid, endLSN: .invalid, commitTime: 0))
        let y3000 = PgOutputValue.text(String(repeating: "y", count: 3000))
        var updated = row1
        updated[2] = .text("5")
        updated[13] = .unchangedToast
        return [
            begin, .relation(itemsRelation(items, schema)),
            .insert(.init(relationID: items, new: PgOutputTuple(row1))),
            .insert(.init(relationID: items, new: PgOutputTuple(row2))), commit,
            begin, .update(.init(relationID: items, new: PgOutputTuple(updated))), commit,
            begin,
            .update(
                .init(
                    relationID: items, old: .key(PgOutputTuple([.text("2")] + Array(repeating: .null, count: 13))),
                    new: PgOutputTuple([.text("10")] + row2.dropFirst()))),
            commit,
            begin, .delete(.init(relationID: items, old: .key(PgOutputTuple([.text("10")] + Array(repeating: .null, count: 13))))),
            commit,
            begin, .relation(fullsRelation(fulls, schema)),
            .insert(.init(relationID: fulls, new: PgOutputTuple([.text("1"), .text("a"), y3000]))), commit,
            begin,
            .update(
                .init(
                    relationID: fulls, old: .full(PgOutputTuple([.text("1"), .text("a"), y3000])),
                    new: PgOutputTuple([.text("1"), .text("b"), .unchangedToast]))),
            commit,
            begin, .delete(.init(relationID: fulls, old: .full(PgOutputTuple([.text("1"), .text("b"), y3000])))), commit,
            begin, .message(.init(transactional: true, lsn: .invalid, prefix: schema, content: Array("hello".utf8))), commit,
            .message(.init(transactional: false, lsn: .invalid, prefix: schema, content: Array("now".utf8))),
            // TRUNCATE invalidates the relations' cache entries: their Relation messages come again.
            begin, .relation(itemsRelation(items, schema)), .relation(fullsRelation(fulls, schema)),
            .truncate(.init(options: 3, relationIDs: [items, fulls])), commit,
        ]
    }

    static func zeroed(_ message: PgOutputMessage) -> PgOutputMessage {
        switch message {
        case .begin: .begin(.init(finalLSN: .invalid, commitTime: 0, xid: 0))
        case .commit(let c): .commit(.init(flags: c.flags, commitLSN: .invalid, endLSN: .invalid, commitTime: 0))
        case .message(var m):
            { m.lsn = .invalid; return .message(m) }()
        default: message
        }
    }

    @Test func capturedChangesDecodeExactly() async throws {
        try await withTestSchema("pgocap", database: Self.database) { conn, schema in
            let (items, fulls) = try await Self.setUp(conn, schema)
            let startedAt = Int64(Date().timeIntervalSince1970 * 1_000_000)
            let captured = try await capturePgOutput(
                conn, schema: schema, tables: ["items", "fulls"], changes: Self.changes(schema), messagePrefix: schema)
            // pgoutput sends a Relation again whenever the relation cache is invalidated (any DDL
            // on the server, e.g. other tests running in parallel): drop repeats identical to one
            // already sent, which a consumer treats the same way.
            func withoutRepeatedRelations(_ list: [PgOutputMessage]) -> [PgOutputMessage] {
                var seen: [UInt32: PgOutputRelation] = [:]
                return list.filter { message in
                    guard case .relation(let r) = message else { return true }
                    defer { seen[r.id] = r }
                    return seen[r.id] != r
                }
            }
            let all = try captured.map { try PgOutputDecoder.decode($0.data) }
            let messages = withoutRepeatedRelations(all)
            let expected = withoutRepeatedRelations(Self.expected(items: items, fulls: fulls, schema: schema))
            #expect(messages.count == expected.count)
            for (i, (got, want)) in zip(messages.map(Self.zeroed), expected).enumerated() {
                #expect(got == want, "message \(i)")
            }

            // Transaction fields agree with each other and with what the server reports per row.
            var open: PgOutputMessage.Begin?
            var lastEnd = LSN.invalid
            for (change, message) in zip(captured, all) {
                switch message {
                case .begin(let b):
                    #expect(open == nil)
                    #expect(b.xid == change.xid)
                    #expect(b.finalLSN > lastEnd)
                    #expect(b.commitTime >= startedAt - 60_000_000 && b.commitTime <= startedAt + 600_000_000)
                    open = b
                case .commit(let c):
                    let b = try #require(open)
                    #expect(c.flags == 0)
                    #expect(c.commitLSN == b.finalLSN)
                    #expect(c.endLSN > c.commitLSN)
                    #expect(c.commitTime == b.commitTime)
                    #expect(change.lsn == c.endLSN)
                    lastEnd = c.endLSN
                    open = nil
                case .message(let m):
                    #expect(m.lsn == change.lsn)
                    if m.transactional { #expect(open != nil) } else { #expect(open == nil) }
                default:
                    #expect(open?.xid == change.xid)
                }
            }
            #expect(open == nil)
        }
    }

    /// The captured changes of `items` through the row builder: typed values, NULLs, and the unchanged
    /// TOAST column reported instead of being written; for `fulls` the old tuple fills it in.
    @Test func capturedChangesBuildRows() async throws {
        try await withTestSchema("pgorow", database: Self.database) { conn, schema in
            _ = try await Self.setUp(conn, schema)
            let captured = try await capturePgOutput(
                conn, schema: schema, tables: ["items", "fulls"], changes: Self.changes(schema), messagePrefix: schema)
            var relations: [UInt32: PgOutputRowBuilder] = [:]
            var batches: [UInt32: BatchBuilder] = [:]
            var operations: [UInt32: [RowOperation]] = [:]
            var unchanged: [UInt32: [UnchangedColumns]] = [:]
            for change in captured {
                let message = try PgOutputDecoder.decode(change.data)
                func add(_ id: UInt32, _ tuple: PgOutputTuple, _ op: RowOperation, fallback: PgOutputTuple? = nil) throws {
                    let rows = try #require(relations[id])
                    unchanged[id, default: []].append(try rows.append(tuple, to: &batches[id]!, fallback: fallback))
                    operations[id, default: []].append(op)
                }
                switch message {
                case .relation(let r):
                    // A relation comes again after TRUNCATE (same shape here): keep the rows so far.
                    let rows = try PgOutputRowBuilder(relation: r)
                    relations[r.id] = rows
                    if batches[r.id]?.schema != rows.schema { batches[r.id] = BatchBuilder(schema: rows.schema) }
                case .insert(let i): try add(i.relationID, i.new, .insert)
                case .update(let u): try add(u.relationID, u.new, .update, fallback: u.old?.tuple)
                case .delete(let d): try add(d.relationID, d.old.tuple, .delete)
                default: break
                }
            }
            let itemsID = try #require(relations.first { $0.value.relation.name == "items" }?.key)
            let fullsID = try #require(relations.first { $0.value.relation.name == "fulls" }?.key)
            let items = batches[itemsID]!.finish(operations: operations[itemsID])
            #expect(
                items.schema.fields.map(\.type) == [
                    .int32, .string, .int64, .decimal(precision: 10, scale: 2), .bool, .date, .timestamp(withTimeZone: true),
                    .timestamp(withTimeZone: false), .uuid, .json, .bytes, .int16, .float64, .string,
                ])
            #expect(items.operations == [.insert, .insert, .update, .update, .delete])
            let x3000 = Value.string(String(repeating: "x", count: 3000))
            let full1: [Value] = [
                .int(1), .string("héllo"), .int(9_000_000_000), .decimal(1234, scale: 2), .bool(true), .date(days(2024, 2, 29)),
                .timestamp(micros(2024, 5, 6, 5, 8, 9, 123_456), withTimeZone: true),
                .timestamp(micros(2024, 5, 6, 7, 8, 9), withTimeZone: false),
                .uuid([0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11]),
                .json(#"{"a": [1, 2]}"#), .bytes([0x00, 0xff, 0x10]), .int(-7), .float(1.5), x3000,
            ]
            #expect(items.row(0) == full1)
            #expect(items.row(1) == [.int(2), .null, .null, .null, .bool(false)] + Array(repeating: .null, count: 9))
            var updated = full1
            updated[2] = .int(5)
            updated[13] = .null  // placeholder: reported as unchanged
            #expect(items.row(2) == updated)
            #expect(items.row(3) == [.int(10), .null, .null, .null, .bool(false)] + Array(repeating: .null, count: 9))
            #expect(items.row(4) == [.int(10)] + Array(repeating: .null, count: 13))
            #expect(unchanged[itemsID] == [.init(), .init(), .init([13]), .init(), .init()])

            let fulls = batches[fullsID]!.finish(operations: operations[fullsID])
            let y3000 = Value.string(String(repeating: "y", count: 3000))
            #expect(fulls.row(0) == [.int(1), .string("a"), y3000])
            #expect(fulls.row(1) == [.int(1), .string("b"), y3000])  // from the full old tuple
            #expect(fulls.row(2) == [.int(1), .string("b"), y3000])
            #expect(unchanged[fullsID] == [.init(), .init(), .init()])
        }
    }
}
