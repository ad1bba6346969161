import DponeTestSupport
import Flow
import PostgresConnector
import Testing

@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct PostgresCatalogTests {
    @Test func describesARealTable() async throws {
        try await withTestSchema("catalog") { conn, schema in
            let s = PostgresSQL.quoteIdentifier(schema)
            try await conn.execute(
                """
                CREATE TYPE \(s).mood AS ENUM ('sad', 'happy');
                CREATE DOMAIN \(s).money2 AS numeric(14,2);
                CREATE TABLE \(s)."Every Type" (
                    "Id" bigint PRIMARY KEY, small smallint, regular integer NOT NULL, r real, d double precision,
                    amount numeric(12,2) NOT NULL, wide numeric(38,37), txt text, vc varchar(20), ch char(3),
                    flag boolean, day date, clock time, ts timestamp, tstz timestamptz, id uuid, js json, jsb jsonb,
                    blob bytea, tags text[], feeling \(s).mood, price \(s).money2, dropped int
                );
                ALTER TABLE \(s)."Every Type" DROP COLUMN dropped;
                """)
            let table = try await PostgresCatalog.describeTable(schema: schema, table: "Every Type", on: conn)
            #expect(table.qualifiedName == "\(s).\"Every Type\"")
            #expect(
                table.schema
                    == Schema([
                        Field("Id", .int64, nullable: false), Field("small", .int16),
                        Field("regular", .int32, nullable: false), Field("r", .float32), Field("d", .float64),
                        Field("amount", .decimal(precision: 12, scale: 2), nullable: false),
                        Field("wide", .decimal(precision: 38, scale: 37)), Field("txt", .string), Field("vc", .string),
                        Field("ch", .string), Field("flag", .bool), Field("day", .date), Field("clock", .time),
                        Field("ts", .timestamp(withTimeZone: false)), Field("tstz", .timestamp(withTimeZone: true)),
                        Field("id", .uuid), Field("js", .json), Field("jsb", .json), Field("blob", .bytes),
                        Field("tags", .list(.string)), Field("feeling", .string), Field("price", .decimal(precision: 14, scale: 2)),
                    ]))
            #expect(table.columns.map(\.typeName).contains("character varying(20)"))
            #expect(table.columns.first { $0.name == "tags" }?.selectExpression == "array_to_json(\"tags\") AS \"tags\"")
            #expect(table.columns.first { $0.name == "feeling" }?.selectExpression == "\"feeling\"::text AS \"feeling\"")
            #expect(table.wireFormats[16] == .json && table.wireFormats[17] == .jsonb)

            // The select list and wire formats decode a real COPY of the table.
            try await conn.execute(
                """
                INSERT INTO \(table.qualifiedName) ("Id", regular, amount, ch, tags, feeling, price, jsb)
                VALUES (1, 2, 3.50, 'ab', ARRAY['x', 'y"z'], 'happy', 12.34, '{"k": [1]}')
                """)
            let batch = try await readAll(table, conn)
            #expect(batch.rowCount == 1)
            let row = batch.row(0)
            #expect(row[0] == .int(1))
            #expect(row[5] == .decimal(350, scale: 2))
            #expect(row[9] == .string("ab "))
            #expect(row[17] == .json("{\"k\": [1]}"))
            #expect(row[19] == .json("[\"x\",\"y\\\"z\"]"))
            #expect(row[20] == .string("happy"))
            #expect(row[21] == .decimal(1234, scale: 2))
            #expect(row[1] == .null)
        }
    }

    @Test func unmappableTypesAndMissingTablesAreClearErrors() async throws {
        try await withTestSchema("catalogerr") { conn, schema in
            let s = PostgresSQL.quoteIdentifier(schema)
            try await conn.execute("CREATE TABLE \(s).t (id int, price money, n numeric)")
            let error = await #expect(throws: DponeError.self) {
                try await PostgresCatalog.describeTable(schema: schema, table: "t", on: conn)
            }
            #expect(error?.kind == .schema)
            #expect(error?.message.contains("\"price\"") == true)
            #expect(error?.message.contains("money") == true)
            #expect(error?.context["table"] == "\(s).\"t\"")

            try await conn.execute("ALTER TABLE \(s).t DROP COLUMN price")
            let exact = try await PostgresCatalog.describeTable(schema: schema, table: "t", on: conn)
            #expect(exact.schema == Schema([Field("id", .int32), Field("n", .numeric)]))
            let unbounded = await #expect(throws: DponeError.self) {
                try await PostgresCatalog.describeTable(schema: schema, table: "t", on: conn, policy: .init(unboundedNumeric: .fail))
            }
            #expect(unbounded?.context["column"] == "n")
            let asText = try await PostgresCatalog.describeTable(
                schema: schema, table: "t", on: conn, policy: .init(unboundedNumeric: .text))
            #expect(asText.schema == Schema([Field("id", .int32), Field("n", .string)]))

            let missing = await #expect(throws: DponeError.self) {
                try await PostgresCatalog.describeTable(schema: schema, table: "nope", on: conn)
            }
            #expect(missing?.message == "table \(s).\"nope\" does not exist")
        }
    }
}

/// Reads every row of `table` through binary COPY and the decoder, on the connection thread.
func readAll(_ table: PostgresTable, _ conn: PostgresConnection, orderBy: String? = nil) async throws -> Batch {
    let order = orderBy.map { " ORDER BY \($0)" } ?? ""
    let sql = "COPY (SELECT \(table.selectList) FROM \(table.qualifiedName)\(order)) TO STDOUT (FORMAT binary)"
    let schema = table.schema
    let formats = table.wireFormats
    return try await conn.run { session in
        var decoder = try CopyBinaryDecoder(schema: schema, formats: formats)
        var builder = BatchBuilder(schema: schema)
        try session.copyOut(sql) { try decoder.decode($0, into: &builder) }
        try decoder.finish()
        return builder.finish()
    }
}
