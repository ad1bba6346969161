import CCurl
import CKafka
import CLZ4
import CODBC
import CPostgres
import CZstd
import Testing

/// Each system-library module links and one real function of each library answers.
@Suite("C libraries link")
struct CLibsSmokeTests {
    @Test func libpqReportsItsVersion() {
        #expect(PQlibVersion() >= 150000)
    }

    @Test func librdkafkaReportsItsVersion() {
        #expect(rd_kafka_version() >= 0x0200_0000)
    }

    @Test func unixODBCAllocatesAnEnvironment() {
        var env: SQLHENV?
        let rc = SQLAllocHandle(SQLSMALLINT(SQL_HANDLE_ENV), nil, &env)
        #expect(rc == SQL_SUCCESS)
        if let env { SQLFreeHandle(SQLSMALLINT(SQL_HANDLE_ENV), env) }
    }

    @Test func libcurlSetsAnOptionThroughTheShim() throws {
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        #expect(dpone_curl_setopt_long(handle, CURLOPT_VERBOSE, 0) == CURLE_OK)
        #expect(dpone_curl_setopt_string(handle, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK)
    }

    @Test func zstdRoundTrips() {
        let input = [UInt8](repeating: 42, count: 4096)
        var compressed = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let size = ZSTD_compress(&compressed, compressed.count, input, input.count, 3)
        #expect(ZSTD_isError(size) == 0)
        var output = [UInt8](repeating: 0, count: input.count)
        let back = ZSTD_decompress(&output, output.count, compressed, size)
        #expect(back == input.count)
        #expect(output == input)
    }

    @Test func lz4RoundTrips() {
        let input = [UInt8]((0..<4096).map { UInt8($0 % 7) })
        var compressed = [CChar](repeating: 0, count: Int(LZ4_compressBound(Int32(input.count))))
        let size = input.withUnsafeBufferPointer { src in
            LZ4_compress_default(
                UnsafeRawPointer(src.baseAddress!).assumingMemoryBound(to: CChar.self),
                &compressed, Int32(input.count), Int32(compressed.count))
        }
        #expect(size > 0)
        var output = [CChar](repeating: 0, count: input.count)
        let back = LZ4_decompress_safe(compressed, &output, size, Int32(output.count))
        #expect(back == Int32(input.count))
        #expect(output.map { UInt8(bitPattern: $0) } == input)
    }
}
