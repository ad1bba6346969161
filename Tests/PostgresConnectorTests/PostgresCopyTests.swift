import DponeTestSupport
import Flow
import PostgresConnector
import Synchronization
import Testing

@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct PostgresCopyTests {
    /// Streams 100k rows out in binary, decoding on the connection thread into 8192-row batches.
    @Test func copyOutStreams100kRowsInChunks() async throws {
        try await withTestSchema("copyout") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "big")
            try await conn.execute(
                """
                CREATE TABLE \(t) AS
                SELECT g::int8 AS id, 'row ' || g AS name, (g / 100.0)::numeric(12,2) AS amount
                FROM generate_series(1, 100000) g
                """)
            let table = try await PostgresCatalog.describeTable(schema: schema, table: "big", on: conn)
            let sql = "COPY (SELECT \(table.selectList) FROM \(table.qualifiedName) ORDER BY id) TO STDOUT (FORMAT binary)"
            let schemaOut = table.schema
            let formats = table.wireFormats
            struct Summary: Sendable { var rows = 0, batches = 0, chunks = 0, idSum: Int64 = 0, amountSum: Int128 = 0, serverRows = 0 }
            let summary = try await conn.run { session -> Summary in
                var s = Summary()
                var decoder = try CopyBinaryDecoder(schema: schemaOut, formats: formats)
                var builder = BatchBuilder(schema: schemaOut, reservingCapacity: 8192)
                func flush() {
                    let batch = builder.finish()
                    s.batches += 1
                    s.rows += batch.rowCount
                    if case .int64(let ids) = batch.columns[0].values { s.idSum += ids.reduce(0, +) }
                    if case .int128(let amounts) = batch.columns[2].values { s.amountSum += amounts.reduce(0, +) }
                }
                s.serverRows = try session.copyOut(sql) { chunk in
                    s.chunks += 1
                    try decoder.decode(chunk, into: &builder)
                    if builder.rowCount >= 8192 { flush() }
                }
                try decoder.finish()
                if builder.rowCount > 0 { flush() }
                return s
            }
            #expect(summary.rows == 100_000)
            #expect(summary.serverRows == 100_000)
            #expect(summary.batches == 13)
            #expect(summary.chunks > 1000)
            #expect(summary.idSum == 5_000_050_000)
            // Σ round(g / 100, 2) * 100 for g in 1...100000 = Σ g.
            #expect(summary.amountSum == 5_000_050_000)
        }
    }

    @Test func asyncCopyOutDeliversChunks() async throws {
        try PostgresTestServer.require()
        let conn = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let total = Mutex(0)
        let rows = try await conn.copyOut("COPY (SELECT g FROM generate_series(1, 1000) g) TO STDOUT") { chunk in
            total.withLock { $0 += chunk.count }
        }
        #expect(rows == 1000)
        // "1\n" ... "1000\n": 9*2 + 90*3 + 900*4 + 5
        #expect(total.withLock { $0 } == 3893)
        await conn.close()
    }

    @Test func copyOutCallbackErrorStopsTheStreamAndKeepsTheConnection() async throws {
        try PostgresTestServer.require()
        let conn = try await PostgresConnection.connect(url: PostgresTestServer.url)
        struct Stop: Error {}
        let seen = Mutex(0)
        await #expect(throws: Stop.self) {
            try await conn.copyOut("COPY (SELECT g FROM generate_series(1, 5000000) g) TO STDOUT") { _ in
                let n = seen.withLock { $0 += 1; return $0 }
                if n == 10 { throw Stop() }
            }
        }
        #expect(seen.withLock { $0 } == 10)
        #expect(try await conn.query("SELECT 4") == [["4"]])
        await conn.close()
    }

    @Test func copyInWritesBatchesAcrossRunCalls() async throws {
        try await withTestSchema("copyin") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "target")
            try await conn.execute("CREATE TABLE \(t) (id bigint NOT NULL, label text, amount numeric(12,2))")
            let flowSchema = Schema([
                Field("id", .int64, nullable: false), Field("label", .string),
                Field("amount", .decimal(precision: 12, scale: 2)),
            ])
            func batch(_ range: Range<Int>) -> Batch {
                var b = BatchBuilder(schema: flowSchema)
                for i in range {
                    b.append(row: [.int(Int64(i)), i % 10 == 0 ? .null : .string("l\(i)"), .decimal(Int128(i), scale: 2)])
                }
                return b.finish()
            }
            let writer = try await conn.run { try $0.beginCopyIn("COPY \(t) FROM STDIN (FORMAT binary)") }
            let encoder = Mutex(CopyBinaryEncoder(schema: flowSchema))
            for part in [0..<5000, 5000..<12000, 12000..<20000] {
                let b = batch(part)
                try await conn.run { _ in
                    var buffer: [UInt8] = []
                    try encoder.withLock { try $0.encode(b, into: &buffer) }
                    try writer.write(buffer)
                }
            }
            let stored = try await conn.run { _ in
                var buffer: [UInt8] = []
                encoder.withLock { $0.finish(into: &buffer) }
                try writer.write(buffer)
                return try writer.finish()
            }
            #expect(stored == 20000)
            let check = try await conn.query("SELECT count(*), count(label), sum(id), sum(amount) FROM \(t)")
            #expect(check == [["20000", "18000", "199990000", "1999900.00"]])
        }
    }

    @Test func copyInProducerErrorAbortsTheCopy() async throws {
        try await withTestSchema("abort") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute("CREATE TABLE \(t) (v text)")
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await conn.copyIn("COPY \(t) FROM STDIN") { writer in
                    try writer.write(Array("a\nb\n".utf8))
                    throw Boom()
                }
            }
            #expect(try await conn.query("SELECT count(*) FROM \(t)") == [["0"]])
            let n = try await conn.copyIn("COPY \(t) FROM STDIN") { try $0.write(Array("x\ny\nz\n".utf8)) }
            #expect(n == 3)
        }
    }

    @Test func copyInServerRejectionSurfacesAtFinish() async throws {
        try await withTestSchema("reject") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute("CREATE TABLE \(t) (id int NOT NULL)")
            let error = await #expect(throws: PostgresError.self) {
                try await conn.copyIn("COPY \(t) FROM STDIN") { try $0.write(Array("1\n\\N\n".utf8)) }
            }
            #expect(error?.sqlState == "23502")
            #expect(try await conn.query("SELECT count(*) FROM \(t)") == [["0"]])
        }
    }
}
