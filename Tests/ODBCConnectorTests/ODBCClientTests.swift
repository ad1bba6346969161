import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Synchronization
import Testing

@testable import ODBCConnector

/// The ODBC client against real drivers: psqlODBC on the PostgreSQL test server and SQLite ODBC on
/// a file, so the code fits no single driver's quirks.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct ODBCClientTests {
    /// Every batch `read` hands over, collected.
    final class Blocks: Sendable {
        let batches = Mutex<[Batch]>([])
        var all: [Batch] { batches.withLock { $0 } }
        var rows: [[Value]] {
            all.flatMap { b in (0..<b.rowCount).map { r in b.columns.map { $0.value(at: r) } } }
        }
    }

    static let emoji = "naïve 日本 🦆"

    /// A fresh schema on the test server with `ddl` run in it; dropped by the caller.
    func postgresSchema(_ ddl: String) async throws -> String {
        let schema = PostgresTestServer.uniqueSchemaName("odbc")
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await pg.execute("CREATE SCHEMA \(schema); SET search_path = \(schema); \(ddl)")
        await pg.close()
        return schema
    }

    func dropPostgresSchema(_ schema: String) async {
        guard let pg = try? await PostgresConnection.connect(url: PostgresTestServer.url) else { return }
        try? await pg.execute("DROP SCHEMA \(schema) CASCADE")
        await pg.close()
    }

    @Test(arguments: [ODBCTextEncoding.automatic, .utf8])
    func postgresTypesNullsAndUnicodeArriveExactly(_ text: ODBCTextEncoding) async throws {
        try ODBCTestDrivers.requireDrivers()
        let schema = try await postgresSchema(
            """
            CREATE TABLE t (a smallint, b int, c bigint, d real, e float8, f numeric(12,3), g varchar(20), h text, i boolean,
                            j date, k timestamp, l bytea, m uuid);
            INSERT INTO t VALUES (-3, 70000, 9000000000, 1.5, -2.25, 12345.678, '\(Self.emoji)', '\(Self.emoji) long', true,
                                  '2026-12-07', '2026-12-07 10:11:12.345678', '\\x00ff10', '0b6c6d5e-1a2b-4c3d-8e9f-001122334455');
            INSERT INTO t VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            """)
        defer { Task { await dropPostgresSchema(schema) } }
        let odbc = try await ODBCConnection.connect(ODBCTestDrivers.postgres(), text: text)
        #expect(await odbc.dbmsName == "PostgreSQL")
        let columns = try await odbc.describe("SELECT * FROM \(schema).t WHERE 1 = 0")
        #expect(columns.map(\.type) == [
            .int16, .int32, .int64, .float32, .float64, .decimal(precision: 12, scale: 3), .string, .string, .bool, .date,
            .timestamp(withTimeZone: false), .bytes, .uuid,
        ])
        let blocks = Blocks()
        let read = try await odbc.read(
            "SELECT a, b, c, d, e, f, g, i, j, k, m, h, l FROM \(schema).t ORDER BY a NULLS LAST", maxRows: 1_000, bufferBytes: 1 << 20
        ) { batch in blocks.batches.withLock { $0.append(batch) } }
        await odbc.close()
        #expect(read == 2)
        let rows = blocks.rows
        let day = Int32(CivilCalendar.days(year: 2026, month: 12, day: 7))
        let micros = Int64(day) * 86_400_000_000 + (10 * 3600 + 11 * 60 + 12) * 1_000_000 + 345_678
        #expect(rows[0][0] == .int(-3))
        #expect(rows[0][1] == .int(70000))
        #expect(rows[0][2] == .int(9_000_000_000))
        #expect(rows[0][3] == .float(1.5))
        #expect(rows[0][4] == .float(-2.25))
        #expect(ScalarFormatting.text(of: rows[0][5]) == "12345.678")
        #expect(rows[0][6] == .string(Self.emoji))
        #expect(rows[0][7] == .bool(true))
        #expect(rows[0][8] == .date(day))
        #expect(ScalarFormatting.text(of: rows[0][9]) == ScalarFormatting.text(of: .timestamp(micros, withTimeZone: false)))
        #expect(ScalarFormatting.text(of: rows[0][10]) == "0b6c6d5e-1a2b-4c3d-8e9f-001122334455")
        #expect(rows[0][11] == .string(Self.emoji + " long"))
        #expect(rows[0][12] == .bytes([0x00, 0xFF, 0x10]))
        #expect(rows[1].allSatisfy { $0 == .null }, "every NULL arrives as NULL")
    }

    @Test func sqliteTypesNullsAndUnicodeArriveExactly() async throws {
        try ODBCTestDrivers.requireDrivers()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dpone-odbc-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let odbc = try await ODBCConnection.connect(ODBCTestDrivers.sqlite(path))
        #expect(await odbc.dbmsName == "SQLite")
        let driver = await odbc.driverName
        #expect(
            await !odbc.unicode,
            "SQLite ODBC (\(driver) at \(ODBCConnection.driverLibrary(ODBCTestDrivers.sqlite(path)) ?? "?")) has no W entry points: text crosses as UTF-8")
        try await odbc.execute("CREATE TABLE t (a INTEGER, b BIGINT, c DOUBLE, d VARCHAR(40), e TEXT, f NUMERIC(10,2))")
        try await odbc.execute("INSERT INTO t VALUES (7, 9000000000, 2.5, '\(Self.emoji)', '\(Self.emoji) long', 12.34)")
        try await odbc.execute("INSERT INTO t VALUES (NULL, NULL, NULL, NULL, NULL, NULL)")
        let blocks = Blocks()
        let read = try await odbc.read("SELECT a, b, c, d, f, e FROM t ORDER BY a IS NULL", maxRows: 100, bufferBytes: 1 << 20) { batch in
            blocks.batches.withLock { $0.append(batch) }
        }
        await odbc.close()
        #expect(read == 2)
        let rows = blocks.rows
        #expect(rows[0][0] == .int(7))
        #expect(rows[0][1] == .int(9_000_000_000))
        #expect(rows[0][2] == .float(2.5))
        #expect(rows[0][3] == .string(Self.emoji))
        #expect(ScalarFormatting.text(of: rows[0][4]) == "12.34")
        #expect(rows[0][5] == .string(Self.emoji + " long"))
        #expect(rows[1].allSatisfy { $0 == .null })
    }

    /// Many rows per fetch, bounded by the byte budget, and every row exactly once.
    @Test func blockFetchReadsManyRowsPerFetchWithinTheBudget() async throws {
        try ODBCTestDrivers.requireDrivers()
        let odbc = try await ODBCConnection.connect(ODBCTestDrivers.postgres())
        let blocks = Blocks()
        let budget = 256 * 1024
        let read = try await odbc.read(
            "SELECT g AS id, ('row ' || g)::varchar(20) AS label FROM generate_series(1, 200000) g", maxRows: 65_536, bufferBytes: budget
        ) { batch in blocks.batches.withLock { $0.append(batch) } }
        await odbc.close()
        #expect(read == 200_000)
        let batches = blocks.all
        #expect(batches.count > 1 && batches.count < 2_000, "rows arrive in blocks, \(batches.count) batches")
        let perFetch = batches.map(\.rowCount).max() ?? 0
        #expect(perFetch > 100, "\(perFetch) rows per fetch")
        var sum: Int64 = 0
        for b in batches { for r in 0..<b.rowCount { if case .int(let v) = b.columns[0].value(at: r) { sum += v } } }
        #expect(sum == 200_000 * 200_001 / 2)
    }

    /// A value far larger than one chunk is read whole, in chunks, never sized from the driver.
    @Test func longValuesAreReadInChunks() async throws {
        try ODBCTestDrivers.requireDrivers()
        let odbc = try await ODBCConnection.connect(ODBCTestDrivers.postgres())
        let blocks = Blocks()
        _ = try await odbc.read("SELECT 1 AS id, repeat('ab🦆', 100000) AS big, decode(repeat('00ff', 100000), 'hex') AS blob", maxRows: 10, bufferBytes: 1 << 20) { batch in
            blocks.batches.withLock { $0.append(batch) }
        }
        await odbc.close()
        let row = try #require(blocks.rows.first)
        // Compared whole, reported by size (a 400 KB value in a failure message helps nobody).
        let text = row[1] == .string(String(repeating: "ab🦆", count: 100_000))
        let bytes = row[2] == .bytes(Array(repeating: [0x00, 0xFF], count: 100_000).flatMap { $0 })
        if case .string(let got) = row[1], !text {
            let want = String(repeating: "ab🦆", count: 100_000)
            let g = Array(got.unicodeScalars), w = Array(want.unicodeScalars)
            let first = (0..<min(g.count, w.count)).first { g[$0] != w[$0] } ?? min(g.count, w.count)
            Issue.record("long text: \(g.count) scalars, want \(w.count); first difference at \(first): \(String(String.UnicodeScalarView(g[max(0, first - 4)..<min(g.count, first + 6)])))")
        }
        #expect(text, "the long text differs from 100,000 × 'ab🦆'")
        #expect(bytes, "the long bytea differs from 100,000 × 00ff")
    }

    @Test func aBadQueryCarriesTheDiagnosticChain() async throws {
        try ODBCTestDrivers.requireDrivers()
        let odbc = try await ODBCConnection.connect(ODBCTestDrivers.postgres())
        await #expect {
            try await odbc.execute("SELECT * FROM no_such_table_dpone")
        } throws: { error in
            guard let error = error as? ODBCError else { return false }
            return error.sqlState == "42P01" && error.description.contains("no_such_table_dpone")
        }
        await odbc.close()
    }

    /// Nothing listens on the port: SQLSTATE 08001, a readable message, the password masked.
    @Test func aClosedPortFailsCleanlyWithThePasswordMasked() async throws {
        try ODBCTestDrivers.requireDrivers()
        let secret = "S3cr3t;pw"
        let text = ODBCTestDrivers.postgres(password: "{\(secret)}", port: 1)
        do {
            _ = try await ODBCConnection.connect(text, loginTimeout: 5)
            Issue.record("connected to a closed port")
        } catch let error as ODBCError {
            #expect(error.sqlState == "08001")
            #expect(!error.description.contains("S3cr3t"))
            #expect(error.description.contains("PWD=***") || error.description.contains("Pwd=***"))
            #expect(!error.dponeError(.source).description.contains("S3cr3t"))
        }
    }
}

extension ODBCClientTests {
    /// The rows of a batch with every insertable type, NULLs, an empty string and emoji.
    static func insertBatch(rows: Int) -> Batch {
        let schema = Schema([
            Field("id", .int64), Field("s", .int16), Field("f", .float64), Field("b", .bool), Field("t", .string),
            Field("d", .date), Field("ts", .timestamp(withTimeZone: false)), Field("n", .decimal(precision: 12, scale: 3)),
            Field("raw", .bytes),
        ])
        var builder = BatchBuilder(schema: schema, reservingCapacity: rows)
        for i in 0..<rows {
            if i % 10 == 9 {
                _ = builder.append(row: [.int(Int64(i)), .null, .null, .null, .null, .null, .null, .null, .null])
                continue
            }
            _ = builder.append(row: [
                .int(Int64(i)), .int(Int64(i % 100)), .float(Double(i) / 4), .bool(i % 2 == 0), .string(i % 7 == 0 ? "" : "v\(i) 🦆 日本"),
                .date(Int32(20_000 + i % 1000)), .timestamp(Int64(i) * 1_000_001, withTimeZone: false),
                .decimal(Int128(i) * 1_001, scale: 3), .bytes([UInt8(i % 256), 0, 255]),
            ])
        }
        return builder.finish()
    }

    /// Parameter arrays: every row of a 5,000-row batch in a few executes, exactly, on both drivers.
    @Test(arguments: ["postgres", "sqlite"])
    func parameterArrayInsertsArriveExactly(_ driver: String) async throws {
        try ODBCTestDrivers.requireDrivers()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dpone-odbc-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let schema = PostgresTestServer.uniqueSchemaName("odbcins")
        let odbc = try await ODBCConnection.connect(driver == "postgres" ? ODBCTestDrivers.postgres() : ODBCTestDrivers.sqlite(path))
        let table = driver == "postgres" ? "\(schema).t" : "t"
        if driver == "postgres" { try await odbc.execute("CREATE SCHEMA \(schema)") }
        // SQLite ODBC commits each row of an array on its own: without this, 5,000 fsyncs load the
        // whole machine's disk while the rest of the suite runs.
        if driver == "sqlite" { try await odbc.execute("PRAGMA synchronous = OFF") }
        try await odbc.execute(
            "CREATE TABLE \(table) (id bigint, s smallint, f double precision, b boolean, t varchar(40), d date, ts timestamp, n numeric(12,3), raw \(driver == "postgres" ? "bytea" : "blob"))")
        let batch = Self.insertBatch(rows: 5_000)
        let inserted = try await odbc.insert(into: table, batch, bufferBytes: 64 * 1024)
        #expect(inserted == 5_000)
        let blocks = Blocks()
        _ = try await odbc.read("SELECT id, s, f, b, t, d, ts, n, raw FROM \(table) ORDER BY id", maxRows: 10_000, bufferBytes: 1 << 20) { b in
            blocks.batches.withLock { $0.append(b) }
        }
        if driver == "postgres" { try await odbc.execute("DROP SCHEMA \(schema) CASCADE") }
        await odbc.close()
        let rows = blocks.rows
        #expect(rows.count == 5_000)
        var mismatches = 0
        for (r, row) in rows.enumerated() where r < 5_000 {
            for c in 0..<9 {
                let want = batch.columns[c].value(at: r)
                var got = row[c]
                // Drivers widen: smallint/bool may come back as the declared SQL type's dpone type.
                if case .bool = want, case .int(let v) = got { got = .bool(v != 0) }
                var same = ScalarFormatting.text(of: got) == ScalarFormatting.text(of: want)
                if driver == "sqlite", !same {
                    // SQLite keeps numerics as REAL and SQLite ODBC timestamps to the millisecond:
                    // the store's own precision, compared at it.
                    switch (want, got) {
                    case (.decimal, _):
                        same = Double(ScalarFormatting.text(of: got)) == Double(ScalarFormatting.text(of: want))
                    case (.timestamp(let w, _), .timestamp(let g, _)):
                        same = w / 1_000 == g / 1_000
                    default: break
                    }
                }
                if !same {
                    mismatches += 1
                    if mismatches <= 5 { Issue.record("row \(r) column \(c): \(ScalarFormatting.text(of: got)) != \(ScalarFormatting.text(of: want))") }
                }
            }
        }
        #expect(mismatches == 0)
    }

    /// Which entry points the driver has is read from the driver library the connection string
    /// resolves to (odbcinst.ini), and the memory-map fallback reads the whole map: with a few
    /// hundred threads the driver's line lies far past the first page, where a one-page read
    /// stopped (the cause of a test that failed only beside others).
    @Test func theDriverLibraryIsFoundWhateverTheProcessLooksLike() async throws {
        try ODBCTestDrivers.requireDrivers()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dpone-odbc-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let library = try #require(ODBCConnection.driverLibrary(ODBCTestDrivers.sqlite(path)))
        #expect(library.hasSuffix("libsqlite3odbc.so"))
        #expect(ODBCConnection.driverLibrary(ODBCTestDrivers.postgres())?.hasSuffix("psqlodbcw.so") == true)
        #expect(ODBCConnection.driverLibrary("Driver=/opt/x/libfoo.so;Server=h") == "/opt/x/libfoo.so")
        let odbc = try await ODBCConnection.connect(ODBCTestDrivers.sqlite(path))
        // Many threads: many mappings before the driver's.
        let stop = Mutex(false)
        var threads: [Thread] = []
        for _ in 0..<200 {
            let thread = Thread { while !stop.withLock({ $0 }) { usleep(10_000) } }
            thread.start()
            threads.append(thread)
        }
        defer { stop.withLock { $0 = true } }
        let found = ODBCConnection.loadedLibrary(named: await odbc.driverName)
        #expect(found?.contains("sqlite3odbc") == true, "\(found ?? "nil")")
        #expect(!ODBCConnection.hasWideEntryPoints(library: try #require(found)))
        #expect(ODBCConnection.hasWideEntryPoints(library: library) == false)
        await odbc.close()
    }
}
