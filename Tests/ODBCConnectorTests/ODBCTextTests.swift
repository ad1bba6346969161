import Flow
import Testing

@testable import ODBCConnector

/// The pieces of the ODBC client that need no driver: connection strings and UTF-16 text.
@Suite struct ODBCTextTests {
    @Test func connectionStringsParseBracedValues() {
        let attributes = ODBCConnectionString.attributes("Driver={PostgreSQL Unicode};Server=h;PWD={a;b}}c};Database=d")
        #expect(attributes.map(\.key) == ["Driver", "Server", "PWD", "Database"])
        #expect(attributes[0].value == "PostgreSQL Unicode")
        #expect(attributes[2].value == "a;b}c", "a braced value keeps ';' and '}}' is one brace")
    }

    @Test func passwordsAreMaskedWhateverTheirShape() {
        for secret in ["plain", "{with;semicolon}", "{brace}}inside}", "{sp ace}"] {
            let text = "Driver={FreeTDS};Server=h;UID=u;PWD=\(secret);Encrypt=yes"
            let redacted = ODBCConnectionString.redacted(text)
            #expect(redacted.contains("PWD=***"), "\(redacted)")
            #expect(!redacted.contains("semicolon") && !redacted.contains("inside") && !redacted.contains("plain") && !redacted.contains("ace"))
            // The log redactor masks the same strings when they reach a log line some other way.
            let logged = Redaction.scrub("connecting: \(text)")
            #expect(!logged.contains("semicolon") && !logged.contains("inside") && !logged.contains("plain"), "\(logged)")
        }
    }

    @Test func utf16BecomesUTF8IncludingSurrogatePairs() {
        let text = "aé日🦆"
        let units = Array(text.utf16)
        var out: [UInt8] = []
        units.withUnsafeBufferPointer { ODBCText.transcode($0, into: &out) }
        #expect(out == Array(text.utf8))
        // A lone surrogate is U+FFFD, never a trap.
        out = []
        [0xD83E, 0x41].withUnsafeBufferPointer { ODBCText.transcode($0, into: &out) }
        #expect(String(decoding: out, as: UTF8.self) == "\u{FFFD}A")
    }

    /// A pair split across two chunks of a long value is joined, not replaced.
    @Test func aSurrogatePairSplitAcrossChunksIsJoined() {
        let units = Array("x🦆y".utf16)  // x, high, low, y
        var out: [UInt8] = []
        var carry: UInt16?
        units[0..<2].withUnsafeBufferPointer { ODBCText.transcode($0, into: &out, carry: &carry, more: true) }
        #expect(carry == units[1])
        units[2...].withUnsafeBufferPointer { ODBCText.transcode($0, into: &out, carry: &carry, more: false) }
        #expect(String(decoding: out, as: UTF8.self) == "x🦆y")
    }

    @Test func typesMapOrFailClearly() {
        #expect(ODBCColumn.mapping(sqlType: ODBCType.decimal, size: 12, digits: 3, wide: true)?.0 == .decimal(precision: 12, scale: 3))
        #expect(ODBCColumn.mapping(sqlType: ODBCType.numeric, size: 60, digits: 0, wide: true)?.0 == .numeric, "wider than 38 digits: exact text")
        #expect(ODBCColumn.mapping(sqlType: ODBCType.wvarchar, size: 2_147_483_647, digits: 0, wide: true)?.1 == .longText(wide: true),
            "a (max) column is read in chunks, never sized from the driver")
        #expect(ODBCColumn.mapping(sqlType: ODBCType.varchar, size: 10, digits: 0, wide: false)?.1 == .utf8Text(bytes: 40))
        #expect(ODBCColumn.mapping(sqlType: -150, size: 0, digits: 0) == nil, "sql_variant has no mapping")
        #expect(ODBCColumn.typeName(-150) == "sql_variant (-150)")
    }
}

/// `lookback` computed in Swift, the same on every DBMS.
@Suite struct ODBCLookbackTests {
    @Test func integerDateAndTimestampCursorsGoBack() throws {
        #expect(try ODBCLookback.lowerBound(stored: "1000", lookback: "5", type: .int64, column: "id") == "995")
        #expect(try ODBCLookback.lowerBound(stored: "2026-12-07", lookback: "7 days", type: .date, column: "d") == "2026-11-30")
        #expect(try ODBCLookback.lowerBound(stored: "2026-12-07", lookback: "'2'", type: .date, column: "d") == "2026-12-05")
        let ts = try ODBCLookback.lowerBound(
            stored: "2026-12-07 00:05:00", lookback: "10 minutes", type: .timestamp(withTimeZone: false), column: "ts")
        #expect(ts.hasPrefix("2026-12-06") && ts.contains("23:55:00"), "\(ts)")
    }

    @Test func aLookbackThatDoesNotFitIsAManifestError() {
        #expect(throws: DponeError.self) { try ODBCLookback.lowerBound(stored: "abc", lookback: "5", type: .string, column: "s") }
        #expect(throws: DponeError.self) { try ODBCLookback.lowerBound(stored: "10", lookback: "5 minutes", type: .int32, column: "id") }
        #expect(throws: DponeError.self) {
            try ODBCLookback.lowerBound(stored: "2026-12-07 00:00:00", lookback: "5 fortnights", type: .timestamp(withTimeZone: false), column: "t")
        }
    }
}
