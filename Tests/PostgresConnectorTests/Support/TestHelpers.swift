import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// Connects to the test server (its main database, or `database` made by
/// `PostgresTestServer.isolatedDatabase`), creates a fresh schema, runs `body`, then drops the schema
/// and closes.
func withTestSchema<T>(
    _ prefix: String = "t", database: String? = nil, _ body: (PostgresConnection, String) async throws -> T
) async throws -> T {
    try PostgresTestServer.require()
    var url = PostgresTestServer.url
    if let database { url = try await PostgresTestServer.isolatedDatabase(database) }
    let connection = try await PostgresConnection.connect(url: url)
    let schema = PostgresTestServer.uniqueSchemaName(prefix)
    let quoted = PostgresSQL.quoteIdentifier(schema)
    try await connection.execute("CREATE SCHEMA \(quoted)")
    do {
        let result = try await body(connection, schema)
        try await connection.execute("DROP SCHEMA \(quoted) CASCADE")
        await connection.close()
        return result
    } catch {
        try? await connection.execute("ROLLBACK")
        try? await connection.execute("DROP SCHEMA IF EXISTS \(quoted) CASCADE")
        await connection.close()
        throw error
    }
}

/// Bytes from a hex string (whitespace ignored).
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8.filter { $0 != 32 && $0 != 10 })
    precondition(digits.count % 2 == 0)
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: preconditionFailure("not hex")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// Decodes a whole binary COPY stream, fed in chunks of `chunkSize` bytes (0: all at once).
func decodeAll(_ stream: [UInt8], schema: Schema, formats: [PostgresWireFormat], chunkSize: Int = 0) throws -> Batch {
    var decoder = try CopyBinaryDecoder(schema: schema, formats: formats)
    var builder = BatchBuilder(schema: schema)
    try stream.withUnsafeBytes { raw in
        let step = chunkSize == 0 ? max(raw.count, 1) : chunkSize
        var offset = 0
        while offset < raw.count {
            let end = min(offset + step, raw.count)
            try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset..<end]), into: &builder)
            offset = end
        }
    }
    try decoder.finish()
    return builder.finish()
}

/// Microseconds since the epoch of a UTC civil time.
func micros(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0, _ us: Int64 = 0) -> Int64 {
    Int64(CivilCalendar.days(year: y, month: mo, day: d)) * CivilCalendar.microsPerDay
        + Int64(h * 3600 + mi * 60 + s) * CivilCalendar.microsPerSecond + us
}

func days(_ y: Int, _ mo: Int, _ d: Int) -> Int32 { Int32(CivilCalendar.days(year: y, month: mo, day: d)) }
