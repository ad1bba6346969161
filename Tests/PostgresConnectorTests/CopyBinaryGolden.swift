import Flow
import PostgresConnector

/// A binary COPY stream captured from PostgreSQL 15 with
///
///     COPY (SELECT * FROM (VALUES
///      (1::int2, 2::int4, 3::int8, 1.5::float4, -2.25::float8, 12.34::numeric(10,2), 'héllo ☃'::text, true,
///       '2024-03-10'::date, '13:45:30.123456'::time, '2024-03-10 02:30:00'::timestamp,
///       '2024-03-10 09:30:00.5+00'::timestamptz, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{"a":1}'::json,
///       '{"b": [1, 2]}'::jsonb, '\xdeadbeef'::bytea),
///      (NULL, ... 16 NULLs),
///      ((-32768)::int2, (-2147483648)::int4, (-9223372036854775808)::int8, '-0'::float4, 1e300::float8,
///       (-0.01)::numeric(10,2), '', false, '0001-01-01', '00:00:00',
///       '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999+00', '00000000-0000-0000-0000-000000000000', '[]',
///       '{}', '\x')
///     ) AS v) TO STDOUT (FORMAT binary)
enum CopyBinaryGolden {
    static let hex =
        "5047434f50590aff0d0a00000000000000000000100000000200010000000400000002000000080000000000000003000000043fc00000"
        + "00000008c0020000000000000000000c0002000000000002000c0d480000000a68c3a96c6c6f20e2988300000001010000000400002283"
        + "000000080000000b8839b4c0000000080002b643f8673a00000000080002b649d678572000000010a0eebc999c0b4ef8bb6d6bb9bd380a"
        + "11000000077b2261223a317d0000000e017b2262223a205b312c20325d7d00000004deadbeef0010ffffffffffffffffffffffffffffff"
        + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff001000000002"
        + "800000000004800000000000000880000000000000000000000480000000000000087e37e43c8800759c0000000a0001ffff4000000200"
        + "6400000000000000010000000004fff4dbf900000008000000000000000000000008ff1fe2ffc59c6000000000080380e70b913b7fff00"
        + "00001000000000000000000000000000000000000000025b5d00000003017b7d00000000ffff"

    static var stream: [UInt8] { bytes(hex: hex) }

    static let schema = Schema([
        Field("i2", .int16), Field("i4", .int32), Field("i8", .int64), Field("f4", .float32), Field("f8", .float64),
        Field("num", .decimal(precision: 10, scale: 2)), Field("txt", .string), Field("flag", .bool),
        Field("day", .date), Field("clock", .time), Field("ts", .timestamp(withTimeZone: false)),
        Field("tstz", .timestamp(withTimeZone: true)), Field("id", .uuid), Field("js", .json), Field("jsb", .json),
        Field("blob", .bytes),
    ])

    static let formats: [PostgresWireFormat] = [
        .int2, .int4, .int8, .float4, .float8, .numeric, .text, .bool, .date, .time, .timestamp, .timestamptz, .uuid,
        .json, .jsonb, .bytea,
    ]

    static let uuid: [UInt8] = bytes(hex: "a0eebc999c0b4ef8bb6d6bb9bd380a11")

    /// The three rows, as Flow values.
    static let rows: [[Value]] = [
        [
            .int(1), .int(2), .int(3), .float(1.5), .float(-2.25), .decimal(1234, scale: 2), .string("héllo ☃"),
            .bool(true), .date(days(2024, 3, 10)), .time(Int64(13 * 3600 + 45 * 60 + 30) * 1_000_000 + 123_456),
            .timestamp(micros(2024, 3, 10, 2, 30), withTimeZone: false),
            .timestamp(micros(2024, 3, 10, 9, 30, 0, 500_000), withTimeZone: true), .uuid(uuid), .json("{\"a\":1}"),
            .json("{\"b\": [1, 2]}"), .bytes([0xDE, 0xAD, 0xBE, 0xEF]),
        ],
        Array(repeating: .null, count: 16),
        [
            .int(-32768), .int(-2_147_483_648), .int(Int64.min), .float(-0.0), .float(1e300), .decimal(-1, scale: 2),
            .string(""), .bool(false), .date(days(1, 1, 1)), .time(0), .timestamp(micros(1, 1, 1), withTimeZone: false),
            .timestamp(micros(9999, 12, 31, 23, 59, 59, 999_999), withTimeZone: true), .uuid(Array(repeating: 0, count: 16)),
            .json("[]"), .json("{}"), .bytes([]),
        ],
    ]

    static var batch: Batch {
        var builder = BatchBuilder(schema: schema)
        for row in rows { precondition(builder.append(row: row) == nil) }
        return builder.finish()
    }
}
