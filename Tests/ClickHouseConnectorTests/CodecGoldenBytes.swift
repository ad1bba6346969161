import ClickHouseConnector
import Flow

/// Bytes captured from the real servers (ClickHouse 18.16.1 on 18123, the 26.9 engine on 18124) with
/// curl, and the Flow rows they hold. The tables were created and filled with
///
///     CREATE TABLE enc (flag UInt8|Bool, small Int16, n Int32, big Int64, f32 Float32, f64 Float64,
///       amount Decimal(12, 2), name Nullable(String), day Date|Date32, ts String|DateTime64(6, 'UTC'),
///       id UUID, doc String, clock String) ENGINE = Memory  -- legacy|modern: dpone's DDL types
///     INSERT INTO enc VALUES (1|true, -2, 123456, -9000000000, 1.5, -0.125, 1234.56, 'héllo',
///       '2024-03-10', '2024-03-10 09:30:00.123456', '61f0c404-5cb3-11e7-907b-a6006ad3dba0',
///       '{"a":[1,2]}', '13:45:30.500000'), (0|false, 32767, -1, 0, 0.25, 1e300, -0.01, NULL,
///       '1970-01-01', '1969-12-31 23:59:59.999999', '00000000-0000-0000-0000-000000000000', '[]',
///       '00:00:00.000000')
///
///     CREATE TABLE golden (i8 Int8, i16 Int16, i32 Int32, i64 Int64, u8 UInt8, u16 UInt16, u32 UInt32,
///       u64 UInt64, f32 Float32, f64 Float64, d32 Decimal(9, 2), d64 Decimal(18, 4), d128 Decimal(38, 6),
///       s String, fs FixedString(4), id UUID, day Date, ts DateTime('UTC'), e Enum8('a' = 1, 'b' = 2),
///       arr Array(Nullable(Int32)), sarr Array(String), n Nullable(Int32), ns Nullable(String))  -- 18.16
///     CREATE TABLE golden (ts6 DateTime64(6, 'UTC'), ts3 DateTime64(3), ts9 DateTime64(9, 'UTC'), b Bool,
///       d32 Date32, lc LowCardinality(String), lcn LowCardinality(Nullable(String)),
///       nd Nullable(Decimal(38, 6)), e16 Enum16('x' = -1000, 'y' = 1000), aa Array(Array(String)),
///       at Array(DateTime64(6, 'UTC')), au Array(UUID), ab Array(Bool), af Array(Float64))  -- modern
///
/// (the rows are in `decoderLegacyRows` / `decoderModernRows`; 18.16 stored '2149-06-06' as day 0).
enum CodecGolden {
    /// `SELECT * FROM enc FORMAT Native` on 18.16 (`encoderRows`, legacy DDL types).
    static let encoderLegacy =
        "0d0204666c61670555496e7438010005736d616c6c05496e743136feffff7f016e05496e74333240e20100ffffffff0362696705"
        + "496e74363400e68ee7fdffffff00000000000000000366333207466c6f617433320000c03f0000803e0366363407466c6f617436"
        + "34000000000000c0bf9c7500883ce4377e06616d6f756e740e446563696d616c2831322c20322940e2010000000000ffffffffff"
        + "ffffff046e616d65104e756c6c61626c6528537472696e672900010668c3a96c6c6f00036461790444617465504d000002747306"
        + "537472696e671a323032342d30332d31302030393a33303a30302e3132333435361a313936392d31322d33312032333a35393a35"
        + "392e3939393939390269640455554944e711b35c04c4f061a0dbd36a00a67b900000000000000000000000000000000003646f63"
        + "06537472696e670b7b2261223a5b312c325d7d025b5d05636c6f636b06537472696e670f31333a34353a33302e3530303030300f"
        + "30303a30303a30302e303030303030"

    /// The same on the modern 26.9 engine (modern DDL types).
    static let encoderModern =
        "0d0204666c616704426f6f6c010005736d616c6c05496e743136feffff7f016e05496e74333240e20100ffffffff036269670549"
        + "6e74363400e68ee7fdffffff00000000000000000366333207466c6f617433320000c03f0000803e0366363407466c6f61743634"
        + "000000000000c0bf9c7500883ce4377e06616d6f756e740e446563696d616c2831322c20322940e2010000000000ffffffffffff"
        + "ffff046e616d65104e756c6c61626c6528537472696e672900010668c3a96c6c6f000364617906446174653332504d0000000000"
        + "00027473144461746554696d65363428362c202755544327294078aa114b130600ffffffffffffffff0269640455554944e711b3"
        + "5c04c4f061a0dbd36a00a67b900000000000000000000000000000000003646f6306537472696e670b7b2261223a5b312c325d7d"
        + "025b5d05636c6f636b06537472696e670f31333a34353a33302e3530303030300f30303a30303a30302e303030303030"

    /// `SELECT * FROM enc FORMAT RowBinary` on 18.16.
    static let rowBinaryLegacy =
        "01feff40e2010000e68ee7fdffffff0000c03f000000000000c0bf40e2010000000000000668c3a96c6c6f504d1a323032342d30"
        + "332d31302030393a33303a30302e313233343536e711b35c04c4f061a0dbd36a00a67b900b7b2261223a5b312c325d7d0f31333a"
        + "34353a33302e35303030303000ff7fffffffff00000000000000000000803e9c7500883ce4377effffffffffffffff0100001a31"
        + "3936392d31322d33312032333a35393a35392e39393939393900000000000000000000000000000000025b5d0f30303a30303a30"
        + "302e303030303030"

    /// The same on the modern engine.
    static let rowBinaryModern =
        "01feff40e2010000e68ee7fdffffff0000c03f000000000000c0bf40e2010000000000000668c3a96c6c6f504d00004078aa114b"
        + "130600e711b35c04c4f061a0dbd36a00a67b900b7b2261223a5b312c325d7d0f31333a34353a33302e35303030303000ff7fffff"
        + "ffff00000000000000000000803e9c7500883ce4377effffffffffffffff0100000000ffffffffffffffff000000000000000000"
        + "00000000000000025b5d0f30303a30303a30302e303030303030"

    /// `SELECT * FROM golden FORMAT Native` on 18.16 (see `decoderLegacyRows`).
    static let decoderLegacy =
        "170202693804496e7438fb7f0369313605496e743136d4feff7f0369333205496e74333270110100000000800369363405496e74"
        + "3634000efad5feffffffffffffffffffff7f0275380555496e7438c800037531360655496e74313660ea0100037533320655496e"
        + "74333200286bee02000000037536340655496e743634ffffffffffffffff03000000000000000366333207466c6f617433320000"
        + "c03f000080be0366363407466c6f6174363400000000000002c09c7500883ce4377e036433320d446563696d616c28392c203229"
        + "d2040000ffffffff036436340e446563696d616c2831382c203429def6048ee0feffff000000000000000004643132380e446563"
        + "696d616c2833382c203629c0badc6aaa7e22984c360a0000000000c0bdf0ffffffffffffffffffffffffff017306537472696e67"
        + "0a68c3a96c6c6f20e29883000266730e4669786564537472696e67283429616200007778797a0269640455554944e711b35c04c4"
        + "f061a0dbd36a00a67b9000000000000000000000000000000000036461790444617465504d0000027473084461746554696d6598"
        + "7ded6500000000016517456e756d3828276127203d20312c20276227203d203229020103617272164172726179284e756c6c6162"
        + "6c6528496e74333229290300000000000000030000000000000000000101000000020000000000000004736172720d4172726179"
        + "28537472696e67290200000000000000020000000000000003782279017a016e0f4e756c6c61626c6528496e7433322900010700"
        + "000000000000026e73104e756c6c61626c6528537472696e67290100000171"

    /// `SELECT * FROM golden FORMAT Native` on the modern engine (see `decoderModernRows`).
    static let decoderModern =
        "0e0203747336144461746554696d65363428362c202755544327294078aa114b130600ffffffffffffffff037473330d44617465"
        + "54696d6536342833293b9ab2278e010000000000000000000003747339144461746554696d65363428392c2027555443272900ba"
        + "e5013d5dbb170000000000000000016204426f6f6c01000364333206446174653332219cffffd1d60100026c63164c6f77436172"
        + "64696e616c69747928537472696e672901000000000000000006000000000000030000000000000000026b31026b320200000000"
        + "0000000102036c636e204c6f7743617264696e616c697479284e756c6c61626c6528537472696e67292901000000000000000006"
        + "00000000000003000000000000000000017602000000000000000002026e64184e756c6c61626c6528446563696d616c2833382c"
        + "20362929000160e3160000000000000000000000000000000000000000000000000000000000036531361f456e756d3136282778"
        + "27203d202d313030302c20277927203d20313030302918fce80302616114417272617928417272617928537472696e6729290300"
        + "00000000000003000000000000000100000000000000010000000000000003000000000000000161016201630261741b41727261"
        + "79284461746554696d65363428362c2027555443272929010000000000000001000000000000002037b0114b1306000261750b41"
        + "7272617928555549442901000000000000000100000000000000e711b35c04c4f061a0dbd36a00a67b900261620b417272617928"
        + "426f6f6c290200000000000000020000000000000001000261660e417272617928466c6f61743634290300000000000000030000"
        + "0000000000000000000000f83f000000000000f87f000000000000f07f"

    static let uuid: [UInt8] = codecBytes(hex: "61f0c4045cb311e7907ba6006ad3dba0")
    static let zeroUUID = [UInt8](repeating: 0, count: 16)

    static let encoderSchema = Schema([
        Field("flag", .bool, nullable: false), Field("small", .int16, nullable: false),
        Field("n", .int32, nullable: false), Field("big", .int64, nullable: false),
        Field("f32", .float32, nullable: false), Field("f64", .float64, nullable: false),
        Field("amount", .decimal(precision: 12, scale: 2), nullable: false), Field("name", .string),
        Field("day", .date, nullable: false), Field("ts", .timestamp(withTimeZone: true), nullable: false),
        Field("id", .uuid, nullable: false), Field("doc", .json, nullable: false), Field("clock", .time, nullable: false),
    ])

    static let encoderRows: [[Value]] = [
        [
            .bool(true), .int(-2), .int(123_456), .int(-9_000_000_000), .float(1.5), .float(-0.125),
            .decimal(123_456, scale: 2), .string("héllo"), .date(codecDays(2024, 3, 10)),
            .timestamp(codecMicros(2024, 3, 10, 9, 30, 0, 123_456), withTimeZone: true), .uuid(uuid),
            .json("{\"a\":[1,2]}"), .time(Int64(13 * 3600 + 45 * 60 + 30) * 1_000_000 + 500_000),
        ],
        [
            .bool(false), .int(32767), .int(-1), .int(0), .float(0.25), .float(1e300), .decimal(-1, scale: 2), .null,
            .date(0), .timestamp(-1, withTimeZone: true), .uuid(zeroUUID), .json("[]"), .time(0),
        ],
    ]

    static var encoderBatch: Batch { codecBatch(encoderSchema, encoderRows) }

    static let decoderLegacyRows: [[Value]] = [
        [
            .int(-5), .int(-300), .int(70000), .int(-5_000_000_000), .int(200), .int(60000), .int(4_000_000_000),
            .decimal(Int128(UInt64.max), scale: 0), .float(1.5), .float(-2.25), .decimal(1234, scale: 2),
            .decimal(-1_234_567_891_234, scale: 4), .decimal(12_345_678_901_234_567_890_123_456, scale: 6),
            .string("héllo ☃"), .string("ab"), .uuid(uuid), .date(codecDays(2024, 3, 10)),
            .timestamp(codecMicros(2024, 3, 10, 9, 30), withTimeZone: true), .string("b"), .json("[1,2,null]"),
            .json("[\"x\\\"y\",\"z\"]"), .int(7), .null,
        ],
        [
            .int(127), .int(32767), .int(-2_147_483_648), .int(Int64.max), .int(0), .int(1), .int(2),
            .decimal(3, scale: 0), .float(-0.25), .float(1e300), .decimal(-1, scale: 2), .decimal(0, scale: 4),
            .decimal(-1_000_000, scale: 6), .string(""), .string("wxyz"), .uuid(zeroUUID), .date(0),
            .timestamp(0, withTimeZone: true), .string("a"), .json("[]"), .json("[]"), .null, .string("q"),
        ],
    ]

    static let decoderModernRows: [[Value]] = [
        [
            .timestamp(codecMicros(2024, 3, 10, 9, 30, 0, 123_456), withTimeZone: true),
            .timestamp(codecMicros(2024, 3, 10, 9, 30, 0, 123_000), withTimeZone: true),
            .timestamp(codecMicros(2024, 3, 10, 9, 30, 0, 123_456), withTimeZone: true), .bool(true),
            .date(codecDays(1900, 1, 1)), .string("k1"), .null, .decimal(1_500_000, scale: 6), .string("x"),
            .json("[[\"a\"],[],[\"b\",\"c\"]]"), .json("[\"2024-03-10T09:30:00.500000Z\"]"),
            .json("[\"61f0c404-5cb3-11e7-907b-a6006ad3dba0\"]"), .json("[true,false]"), .json("[1.5,null,null]"),
        ],
        [
            .timestamp(-1, withTimeZone: true), .timestamp(0, withTimeZone: true), .timestamp(0, withTimeZone: true),
            .bool(false), .date(codecDays(2299, 12, 31)), .string("k2"), .string("v"), .null, .string("y"),
            .json("[]"), .json("[]"), .json("[]"), .json("[]"), .json("[]"),
        ],
    ]
}

func codecBytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8)[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
        chars = chars.dropFirst(2)
    }
    return out
}

func codecHex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

func codecDays(_ y: Int, _ m: Int, _ d: Int) -> Int32 { Int32(CivilCalendar.days(year: y, month: m, day: d)) }

func codecMicros(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0, _ us: Int = 0) -> Int64 {
    Int64(codecDays(y, mo, d)) * CivilCalendar.microsPerDay + Int64(h * 3600 + mi * 60 + s) * 1_000_000 + Int64(us)
}

func codecBatch(_ schema: Schema, _ rows: [[Value]]) -> Batch {
    var builder = BatchBuilder(schema: schema)
    for row in rows { precondition(builder.append(row: row) == nil, "row does not fit \(schema)") }
    return builder.finish()
}

/// Decodes `bytes` fed in chunks of `chunkSize` and merges the batches' rows.
func codecDecodeRows(
    _ bytes: [UInt8], chunkSize: Int, policy: ClickHouseTypePolicy = ClickHouseTypePolicy()
) throws -> (schema: Schema?, rows: [[Value]]) {
    var decoder = NativeDecoder(policy: policy)
    var batches: [Batch] = []
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + chunkSize)
        batches += try decoder.decode(Array(bytes[start..<end]))
        start = end
    }
    batches += try decoder.finish()
    return (decoder.schema, batches.flatMap { b in (0..<b.rowCount).map { b.row($0) } })
}
