import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// The codec against the real server: what the encoder writes, PostgreSQL stores; what PostgreSQL
/// sends, the decoder reads exactly.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct PostgresCodecRoundTripTests {
    /// Encodes the golden batch, COPYs it in, and reads it back as PostgreSQL's own text.
    @Test func encodedBatchIsStoredExactly() async throws {
        try await withTestSchema("encode") { conn, schema in
            let t = PostgresSQL.qualifiedName(schema: schema, name: "t")
            try await conn.execute(
                """
                SET TimeZone = 'UTC';
                CREATE TABLE \(t) (i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
                    num numeric(10,2), txt text, flag boolean, day date, clock time, ts timestamp, tstz timestamptz,
                    id uuid, js json, jsb jsonb, blob bytea, pos int)
                """)
            let golden = CopyBinaryGolden.batch
            let position = Column(type: .int32, count: 3, validity: nil, values: .int32([1, 2, 3]))
            let batch = Batch(
                schema: Schema(CopyBinaryGolden.schema.fields + [Field("pos", .int32)]),
                columns: golden.columns + [position])
            var encoder = try CopyBinaryEncoder(schema: batch.schema, formats: CopyBinaryGolden.formats + [.int4])
            var buffer: [UInt8] = []
            try encoder.encode(batch, into: &buffer)
            encoder.finish(into: &buffer)
            let stored = try await conn.copyIn("COPY \(t) FROM STDIN (FORMAT binary)") { [buffer] in
                try $0.write(buffer)
            }
            #expect(stored == 3)
            let rows = try await conn.query(
                """
                SELECT i2::text, i4::text, i8::text, f4::text, f8::text, num::text, txt, flag::text, day::text,
                       clock::text, ts::text, tstz::text, id::text, js::text, jsb::text, blob::text
                FROM \(t) ORDER BY pos
                """)
            #expect(
                rows[0] == [
                    "1", "2", "3", "1.5", "-2.25", "12.34", "héllo ☃", "true", "2024-03-10", "13:45:30.123456",
                    "2024-03-10 02:30:00", "2024-03-10 09:30:00.5+00", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                    "{\"a\":1}", "{\"b\": [1, 2]}", "\\xdeadbeef",
                ])
            #expect(rows[1] == Array(repeating: nil, count: 16))
            #expect(
                rows[2] == [
                    "-32768", "-2147483648", "-9223372036854775808", "-0", "1e+300", "-0.01", "", "false",
                    "0001-01-01", "00:00:00", "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999+00",
                    "00000000-0000-0000-0000-000000000000", "[]", "{}", "\\x",
                ])
        }
    }

    /// Edge values written by PostgreSQL from SQL literals, read through binary COPY.
    @Test func decodesEdgeValuesExactly() async throws {
        try await withTestSchema("decode") { conn, schema in
            let s = PostgresSQL.quoteIdentifier(schema)
            try await conn.execute(
                """
                SET TimeZone = 'America/New_York';
                CREATE TABLE \(s).edge (pos int PRIMARY KEY, n numeric(22,2), tiny numeric(38,20), big numeric(38,37),
                    ts timestamp, tstz timestamptz, day date, txt text, tags int[]);
                INSERT INTO \(s).edge VALUES
                  (1, 0, 1e-20, 1.2345678901234567890123456789012345678, '2024-03-10 01:59:59.999999',
                   '2024-03-10 01:59:59', '0001-01-01', 'ünïcødé 🎉', ARRAY[1, NULL, 3]),
                  (2, -0.01, -1e-20, -9.9999999999999999999999999999999999999, '2024-03-10 03:00:00',
                   '2024-03-10 03:00:00', '9999-12-31', '', '{}'),
                  (3, 99999999999999999999.99, 0, 0, '2024-11-03 01:30:00', '2024-11-03 01:30:00-04',
                   '2000-01-01', 'line
                break', NULL),
                  (4, -99999999999999999999.99, 123456789012345678.12345678901234567890, 0.0000000000000000000000000000000000001,
                   '0001-01-01 00:00:00', '2024-11-03 01:30:00-05', '1969-12-31', NULL, ARRAY[]::int[]),
                  (5, NULL, NULL, NULL, '9999-12-31 23:59:59.999999', '1970-01-01 00:00:00+00', '1970-01-01', 'x', NULL);
                """)
            let table = try await PostgresCatalog.describeTable(schema: schema, table: "edge", on: conn)
            let batch = try await readAll(table, conn, orderBy: "pos")
            #expect(batch.rowCount == 5)
            let h = Int64(3_600_000_000)
            let expected: [[Value]] = [
                [
                    .int(1), .decimal(0, scale: 2), .decimal(1, scale: 20),
                    .decimal(12_345_678_901_234_567_890_123_456_789_012_345_678, scale: 37),
                    .timestamp(micros(2024, 3, 10, 1, 59, 59, 999_999), withTimeZone: false),
                    // 01:59:59 EST = 06:59:59 UTC
                    .timestamp(micros(2024, 3, 10, 6, 59, 59), withTimeZone: true), .date(days(1, 1, 1)),
                    .string("ünïcødé 🎉"), .json("[1,null,3]"),
                ],
                [
                    .int(2), .decimal(-1, scale: 2), .decimal(-1, scale: 20),
                    .decimal(-99_999_999_999_999_999_999_999_999_999_999_999_999, scale: 37),
                    .timestamp(micros(2024, 3, 10, 3), withTimeZone: false),
                    // 03:00 EDT = 07:00 UTC: one real hour after 01:59:59 EST + 1 s.
                    .timestamp(micros(2024, 3, 10, 7), withTimeZone: true), .date(days(9999, 12, 31)), .string(""),
                    .json("[]"),
                ],
                [
                    .int(3), .decimal(9_999_999_999_999_999_999_999, scale: 2), .decimal(0, scale: 20),
                    .decimal(0, scale: 37), .timestamp(micros(2024, 11, 3, 1, 30), withTimeZone: false),
                    .timestamp(micros(2024, 11, 3, 5, 30), withTimeZone: true), .date(days(2000, 1, 1)),
                    .string("line\nbreak"), .null,
                ],
                [
                    .int(4), .decimal(-9_999_999_999_999_999_999_999, scale: 2),
                    .decimal(12_345_678_901_234_567_812_345_678_901_234_567_890, scale: 20), .decimal(1, scale: 37),
                    .timestamp(micros(1, 1, 1), withTimeZone: false),
                    .timestamp(micros(2024, 11, 3, 5, 30) + h, withTimeZone: true), .date(-1), .null, .json("[]"),
                ],
                [
                    .int(5), .null, .null, .null, .timestamp(micros(9999, 12, 31, 23, 59, 59, 999_999), withTimeZone: false),
                    .timestamp(0, withTimeZone: true), .date(0), .string("x"), .null,
                ],
            ]
            for i in 0..<5 { #expect(batch.row(i) == expected[i], "row \(i + 1)") }
        }
    }

    /// A table copied by decode → encode into a second table is identical, row for row.
    @Test func tableSurvivesDecodeEncode() async throws {
        try await withTestSchema("copy") { conn, schema in
            let s = PostgresSQL.quoteIdentifier(schema)
            try await conn.execute(
                """
                CREATE TABLE \(s).src (id int, a numeric(18,6), b text, c timestamptz, d jsonb, e bytea, f uuid,
                    g double precision, h time, i boolean);
                INSERT INTO \(s).src
                SELECT g, (g * 1.000001 - 5000)::numeric(18,6), md5(g::text) || 'é', '2020-01-01'::timestamptz + g * interval '37 minutes',
                       jsonb_build_object('g', g, 's', repeat('x', g % 7)), decode(md5(g::text), 'hex'),
                       md5(g::text)::uuid, g / 7.0, make_time(g % 24, g % 60, (g % 60) + 0.5), g % 3 = 0
                FROM generate_series(1, 20000) g;
                INSERT INTO \(s).src VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
                CREATE TABLE \(s).dst (LIKE \(s).src);
                """)
            let src = try await PostgresCatalog.describeTable(schema: schema, table: "src", on: conn)
            let batch = try await readAll(src, conn)
            #expect(batch.rowCount == 20001)
            var encoder = try CopyBinaryEncoder(schema: src.schema, formats: src.wireFormats)
            var buffer: [UInt8] = []
            try encoder.encode(batch, into: &buffer)
            encoder.finish(into: &buffer)
            let stored = try await conn.copyIn("COPY \(s).dst FROM STDIN (FORMAT binary)") { [buffer] writer in
                // Deliberately odd slices: COPY data may be split anywhere.
                try buffer.withUnsafeBytes { raw in
                    var o = 0
                    while o < raw.count {
                        let end = min(o + 65_531, raw.count)
                        try writer.write(UnsafeRawBufferPointer(rebasing: raw[o..<end]))
                        o = end
                    }
                }
            }
            #expect(stored == 20001)
            let diff = try await conn.query(
                """
                SELECT count(*) FROM (
                  (SELECT x::text FROM \(s).src x EXCEPT ALL SELECT y::text FROM \(s).dst y)
                  UNION ALL
                  (SELECT y::text FROM \(s).dst y EXCEPT ALL SELECT x::text FROM \(s).src x)) d
                """)
            #expect(diff == [["0"]])
        }
    }
}
