import Flow
import Testing

@testable import ClickHouseConnector

@Suite("ClickHouse client: TabSeparated")
struct ClientTabSeparatedTests {
    @Test func unescapesEveryEscapeClickHouseWrites() {
        let raw = Array(#"a\tb\nc\\d\'e\0f\bg\fh\ri"#.utf8)
        #expect(ClickHouseTabSeparated.unescape(raw[...]) == "a\tb\nc\\d'e\0f\u{08}g\u{0C}h\ri")
    }

    @Test func unescapesReadOnlyEscapes() {
        #expect(ClickHouseTabSeparated.unescape(Array(#"\x41\a\v\e\/\q"#.utf8)[...]) == "A\u{07}\u{0B}\u{1B}/q")
        #expect(ClickHouseTabSeparated.unescape(Array("é\\tü".utf8)[...]) == "é\tü")
    }

    @Test func parsesRowsFieldsAndNulls() {
        let body = Array("1\tx\\ty\t\\N\n2\t\t\\\\N\n".utf8)
        let rows = ClickHouseTabSeparated.parse(body)
        #expect(rows == [["1", "x\ty", nil], ["2", "", "\\N"]])
    }

    @Test func keepsALastRowWithoutNewlineAndTrailingEmptyField() {
        #expect(ClickHouseTabSeparated.parse(Array("a\tb".utf8)) == [["a", "b"]])
        #expect(ClickHouseTabSeparated.parse(Array("a\t".utf8)) == [["a", ""]])
        #expect(ClickHouseTabSeparated.parse([]) == [])
    }

    @Test func escapeRoundTrips() {
        let values: [String?] = ["plain", "tab\there", "new\nline", "back\\slash", "quote'", "nul\0", nil, "", "\\N"]
        let line = values.map(ClickHouseTabSeparated.escape).joined(separator: "\t") + "\n"
        #expect(ClickHouseTabSeparated.parse(Array(line.utf8)) == [values])
    }
}

@Suite("ClickHouse client: exception text")
struct ClientErrorParsingTests {
    @Test func parsesTheOldShape() {
        let parsed = ClickHouseExceptionText.parse(
            "Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., e.what() = DB::Exception\n")
        #expect(parsed.code == 60)
        #expect(parsed.name == nil)
        #expect(parsed.message == "Table default.nope doesn't exist.")
    }

    @Test func parsesTheModernShape() {
        let parsed = ClickHouseExceptionText.parse(
            "Code: 62. DB::Exception: Syntax error: failed at position 1 (SELEC): SELEC 1. Expected one of: ... (SYNTAX_ERROR) (version 26.9.2.1 (official build))\n"
        )
        #expect(parsed.code == 62)
        #expect(parsed.name == "SYNTAX_ERROR")
        #expect(parsed.message == "Syntax error: failed at position 1 (SELEC): SELEC 1. Expected one of: ...")
    }

    @Test func keepsTextThatIsNoException() {
        let parsed = ClickHouseExceptionText.parse("  Bad Gateway\n")
        #expect(parsed.code == nil)
        #expect(parsed.message == "Bad Gateway")
    }

    @Test func errorFromResponsePrefersTheHeaderCodeAndScrubsThePassword() throws {
        let endpoint = try ClickHouseEndpoint("http://u:s3cret-pw@db:8123/")
        let error = ClickHouseError.fromResponse(
            status: 403,
            body: "Code: 516. DB::Exception: u: Authentication failed (s3cret-pw). (AUTHENTICATION_FAILED)",
            headerCode: 516, sql: "SELECT 1", endpoint: endpoint)
        #expect(error.code == 516)
        #expect(error.name == "AUTHENTICATION_FAILED")
        #expect(error.httpStatus == 403)
        #expect(!error.description.contains("s3cret-pw"))
        #expect(error.description.contains("u:***@db:8123"))
        #expect(error.hint != nil)
        let dpone = error.dponeError()
        #expect(dpone.kind == .sink)
        #expect(dpone.context["code"] == "516")
        #expect(dpone.context["sql"] == "SELECT 1")
        #expect(!dpone.description.contains("s3cret-pw"))
    }

    @Test func overloadCodesAndGatewayStatusesAreRetryable() throws {
        let endpoint = try ClickHouseEndpoint("http://h:1/")
        #expect(
            ClickHouseError.fromResponse(
                status: 500, body: "Code: 202. DB::Exception: Too many simultaneous queries", headerCode: nil, sql: nil,
                endpoint: endpoint
            ).isRetryable)
        #expect(
            ClickHouseError.fromResponse(status: 503, body: "", headerCode: nil, sql: nil, endpoint: endpoint)
                .isRetryable)
        #expect(
            !ClickHouseError.fromResponse(
                status: 404, body: "Code: 60. DB::Exception: x", headerCode: 60, sql: nil, endpoint: endpoint
            ).isRetryable)
    }

    @Test func findsAnExceptionAppendedToAStreamedBody() {
        let old = Array(
            "1\n2\n3\nCode: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero, e.what() = DB::Exception\n"
                .utf8)
        #expect(ClickHouseExceptionText.trailingException(in: old)?.hasPrefix("Code: 395, ") == true)
        let modern = Array(
            "1\n2\nCode: 395. DB::Exception: boom. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO) (version 26.9.2.1 (official build))\n"
                .utf8)
        #expect(ClickHouseExceptionText.trailingException(in: modern)?.hasPrefix("Code: 395. ") == true)
        #expect(ClickHouseExceptionText.trailingException(in: Array("a\tCode: 1. DB::x\n1\n".utf8)) == nil)
        #expect(ClickHouseExceptionText.trailingException(in: Array("Code: 12\n".utf8)) == nil)
    }

    @Test func abbreviatesSQLToOneLine() {
        let error = ClickHouseError(kind: .server, message: "m", sql: "SELECT\n  1,\n  2\nFROM t")
        #expect(error.sql == "SELECT 1, 2 FROM t")
        let long = ClickHouseError(kind: .server, message: "m", sql: String(repeating: "x", count: 500))
        #expect(long.sql?.count == 201)
    }
}

@Suite("ClickHouse client: endpoint")
struct ClientEndpointTests {
    @Test func takesCredentialsOutOfTheURL() throws {
        let e = try ClickHouseEndpoint("http://dpone:dpone@127.0.0.1:18123/")
        #expect(e.user == "dpone")
        #expect(e.password == "dpone")
        #expect(e.baseURL == "http://127.0.0.1:18123/")
        #expect(e.redacted == "http://dpone:***@127.0.0.1:18123/")
        #expect(e.server == "127.0.0.1:18123")
    }

    @Test func decodesPercentEncodedCredentialsAndQueryItems() throws {
        let e = try ClickHouseEndpoint(
            "https://us%40er:p%3Aw%40d@ch.example.com?database=analytics&max_threads=2&password=x%26y")
        #expect(e.user == "us@er")
        #expect(e.password == "x&y")
        #expect(e.port == 8443)
        #expect(e.database == "analytics")
        #expect(e.settings == ["max_threads": "2"])
        #expect(e.baseURL == "https://ch.example.com:8443/")
        #expect(!e.redacted.contains("x&y"))
    }

    @Test func defaultsAndIPv6() throws {
        let plain = try ClickHouseEndpoint("http://localhost")
        #expect(plain.port == 8123)
        #expect(plain.user == nil)
        #expect(plain.redacted == "http://localhost:8123/")
        let v6 = try ClickHouseEndpoint("http://[::1]:9000/")
        #expect(v6.host == "[::1]")
        #expect(v6.port == 9000)
    }

    @Test func rejectsBadURLsWithoutShowingThePassword() {
        for url in [
            "ftp://u:pw-123@h/", "http://u:pw-123@h:99999/", "u:pw-123@h", "http://u:pw-123@/",
            "http://u:pw-123%0D%0AX-Evil:%201@h/",
        ] {
            do {
                _ = try ClickHouseEndpoint(url)
                Issue.record("accepted \(url)")
            } catch {
                #expect(!"\(error)".contains("pw-123"), "\(error)")
            }
        }
    }

    @Test func scrubsThePassword() throws {
        let e = try ClickHouseEndpoint("http://u:hunter22@h:1/")
        #expect(e.scrub("bad hunter22 here") == "bad *** here")
        #expect(ClickHouseEndpoint.redact("http://a:b@c:1/?password=zz&x=1") == "http://a:***@c:1/?password=***&x=1")
    }

    @Test func requestURLsCarryNoCredentials() throws {
        let client = try ClickHouseClient(
            ClickHouseConfiguration(
                url: "http://dpone:sekret@127.0.0.1:18123/?max_threads=1", database: "db 1", settings: ["a": "x&y"]))
        let url = client.requestURL(
            ClickHouseRequest(
                sql: "INSERT INTO t FORMAT TSV", body: .stream { _ in 0 }, settings: ["a": "z"], idempotent: false),
            queryID: "q")
        #expect(
            url
                == "http://127.0.0.1:18123/?database=db%201&query_id=q&a=z&max_threads=1&query=INSERT%20INTO%20t%20FORMAT%20TSV"
        )
        #expect(!url.contains("sekret"))
        #expect(client.authHeaders() == ["X-ClickHouse-User: dpone", "X-ClickHouse-Key: sekret"])
    }
}

@Suite("ClickHouse client: versions and capabilities")
struct ClientCapabilityTests {
    @Test func parsesVersions() throws {
        let old = try #require(ClickHouseVersion("18.16.1"))
        #expect(old.major == 18 && old.minor == 16 && old.patch == 1)
        let modern = try #require(ClickHouseVersion("26.9.2.1\n"))
        #expect(modern > old)
        #expect(ClickHouseVersion("garbage") == nil)
    }

    @Test func legacyHasNoOptionalCapability() throws {
        let info = ClickHouseServerInfo(version: try #require(ClickHouseVersion("18.16.1")))
        #expect(info.capabilities.isEmpty)
    }

    @Test func modernHasAllButMultiStatement() throws {
        let info = ClickHouseServerInfo(version: try #require(ClickHouseVersion("26.9.2.1")))
        #expect(info.capabilities == Set(ClickHouseCapability.allCases).subtracting([.multiStatement]))
    }

    @Test func thresholds() throws {
        func caps(_ v: String) throws -> Set<ClickHouseCapability> {
            ClickHouseServerInfo(version: try #require(ClickHouseVersion(v))).capabilities
        }
        #expect(try caps("19.11.1") == [.queryParameters])
        #expect(try caps("20.1.2") == [.queryParameters, .dateTime64])
        #expect(try caps("21.8.1") == [.queryParameters, .dateTime64, .exchangeTables])
        #expect(try caps("21.12.1") == [.queryParameters, .dateTime64, .exchangeTables, .bool])
        #expect(try caps("22.8.1").contains(.lightweightDelete))
        #expect(try !caps("23.1.9").contains(.replacingWithIsDeleted))
        #expect(try caps("23.2.1").contains(.replacingWithIsDeleted))
    }

    @Test func requireNamesTheFeatureAndTheVersion() throws {
        let info = ClickHouseServerInfo(version: try #require(ClickHouseVersion("18.16.1")), server: "http://h:1/")
        let error = try #require(throws: ClickHouseError.self) {
            try info.require(.exchangeTables, for: "full_refresh with swap: exchange")
        }
        #expect(error.kind == .client)
        #expect(error.message.contains("full_refresh with swap: exchange"))
        #expect(error.message.contains("EXCHANGE TABLES"))
        #expect(error.message.contains("21.8"))
        #expect(error.message.contains("18.16.1"))
        try ClickHouseServerInfo(version: try #require(ClickHouseVersion("26.9"))).require(.bool, for: "Bool columns")
    }
}

@Suite("ClickHouse client: configuration")
struct ClientConfigurationTests {
    @Test func backoffGrowsWithJitterAndIsCapped() {
        let c = ClickHouseConfiguration(
            url: "http://h/", retryBaseDelay: .milliseconds(100), maxRetryDelay: .milliseconds(1000))
        for _ in 0..<50 {
            let first = c.retryDelay(attempt: 1)
            #expect(first >= .milliseconds(50) && first <= .milliseconds(100))
            let third = c.retryDelay(attempt: 3)
            #expect(third >= .milliseconds(200) && third <= .milliseconds(400))
            let late = c.retryDelay(attempt: 30)
            #expect(late >= .milliseconds(500) && late <= .milliseconds(1000))
        }
    }
}
