import DponeTestSupport
import Foundation
import PostgresConnector

/// One row of `pg_logical_slot_peek_binary_changes`: the change's LSN and xid as the server reports
/// them, and the raw pgoutput message.
struct CapturedChange: Sendable {
    var lsn: LSN
    var xid: UInt32
    var data: [UInt8]
}

/// Captures the pgoutput messages (protocol 1) of `changes` on the test server.
///
/// Creates a publication for `tables` (names in `schema`) and a fresh logical slot (`pgoutput`),
/// runs each entry of `changes` as its own simple-query call (so each is its own transaction unless
/// it holds BEGIN/COMMIT), peeks every message with `messages 'true'`, and always drops the slot and
/// the publication again (slots retain WAL). Session settings match `ReplicationStream`'s
/// (DateStyle ISO, TimeZone UTC, bytea_output hex), which the text values depend on.
///
/// Logical decoding messages (`pg_logical_emit_message`) are not filtered by publication: those of
/// other sessions (tests running in parallel) show up too. With `messagePrefix`, messages with
/// another prefix are dropped, and so are the transactions left empty by that.
///
/// With `DPONE_PRINT_PGOUTPUT_HEX=1` every message kept is printed as hex (to refresh golden constants).
func capturePgOutput(
    _ conn: PostgresConnection, schema: String, tables: [String], changes: [String], messagePrefix: String? = nil
) async throws -> [CapturedChange] {
    let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let slot = "dpone_test_capture_\(suffix)"
    let publication = "dpone_test_pub_\(suffix)"
    let list = tables.map { PostgresSQL.qualifiedName(schema: schema, name: $0) }.joined(separator: ", ")
    try await conn.execute("SET DateStyle = ISO; SET TimeZone = 'UTC'; SET bytea_output = hex; SET IntervalStyle = postgres")
    try await conn.execute("CREATE PUBLICATION \(publication) FOR TABLE \(list)")
    var slotCreated = false
    do {
        _ = try await conn.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", parameters: [slot])
        slotCreated = true
        for change in changes { try await conn.execute(change) }
        let rows = try await conn.query(
            """
            SELECT lsn::text, xid::text, encode(data, 'hex')
            FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
                 'proto_version', '1', 'publication_names', $2, 'messages', 'true')
            """, parameters: [slot, publication])
        var captured = try rows.map { row -> CapturedChange in
            guard row.count == 3, let lsn = row[0].flatMap({ LSN($0) }), let xid = row[1].flatMap({ UInt32($0) }),
                let data = row[2]
            else { throw CaptureError(description: "unexpected peek row \(row)") }
            return CapturedChange(lsn: lsn, xid: xid, data: bytes(hex: data))
        }
        if let messagePrefix { captured = try dropForeignMessages(captured, prefix: messagePrefix) }
        if ProcessInfo.processInfo.environment["DPONE_PRINT_PGOUTPUT_HEX"] == "1" {
            for c in captured { print("PGOUTPUT \(c.lsn) \(c.xid) \(hex(c.data))") }
        }
        try await conn.execute("SELECT pg_drop_replication_slot('\(slot)')")
        try await conn.execute("DROP PUBLICATION \(publication)")
        return captured
    } catch {
        if slotCreated { try? await conn.execute("SELECT pg_drop_replication_slot('\(slot)')") }
        try? await conn.execute("DROP PUBLICATION IF EXISTS \(publication)")
        throw error
    }
}

/// `changes` without logical messages of another prefix and without the transactions that held
/// nothing else.
func dropForeignMessages(_ changes: [CapturedChange], prefix: String) throws -> [CapturedChange] {
    var kept: [CapturedChange] = []
    var transaction: [CapturedChange] = []
    var inTransaction = false
    var transactionHasOwn = false
    for change in changes {
        let message = try PgOutputDecoder.decode(change.data)
        switch message {
        case .begin:
            inTransaction = true
            transactionHasOwn = false
            transaction = [change]
        case .commit:
            transaction.append(change)
            if transactionHasOwn { kept += transaction }
            inTransaction = false
            transaction = []
        case .message(let m) where m.prefix != prefix:
            continue
        default:
            if inTransaction {
                transaction.append(change)
                transactionHasOwn = true
            } else {
                kept.append(change)
            }
        }
    }
    return kept
}

struct CaptureError: Error, CustomStringConvertible {
    var description: String
}
