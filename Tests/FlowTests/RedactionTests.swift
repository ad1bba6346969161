import Logging
import Synchronization
import Testing

@testable import Flow

/// Secrets never leave in a log line, whatever wrote it.
@Suite struct RedactionTests {
    @Test(arguments: [
        ("connect postgresql://app:s3cret@db:5432/prod failed", "connect postgresql://app:***@db:5432/prod failed"),
        ("url=http://u:p/a?b#c@ch:8123/?database=x", "url=http://u:***@ch:8123/?database=x"),
        ("mssql://sa:pa@ss@word@host/db", "mssql://sa:***@host/db"),
        ("kafka://u:p%40ss%2Fw@broker:9092", "kafka://u:***@broker:9092"),
        ("host=10.0.0.1 password=hunter2 dbname=app", "host=10.0.0.1 password=*** dbname=app"),
        ("sasl.password=abc&x=1 token: t0k3n", "sasl.password=***&x=1 token: ***"),
        (#"{"api_key":"AKIA123","name":"n"}"#, #"{"api_key":***,"name":"n"}"#),
        ("Password='quoted value' user=u", "Password=*** user=u"),
        ("postgresql://db:5432/prod and http://host/path", "postgresql://db:5432/prod and http://host/path"),
        ("no secrets: 2 tokens used", "no secrets: 2 tokens used"),
    ])
    func scrubsSecretsInFreeText(_ input: String, _ expected: String) {
        #expect(Redaction.scrub(input) == expected)
    }

    final class Capture: LogHandler, @unchecked Sendable {
        // Test only: one thread logs.
        var lines: [String] = []
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        var metadataProvider: Logger.MetadataProvider?
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            lines.append("\(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })")
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String { "cannot reach clickhouse://default:pw@ch:8123/" }
    }

    @Test func theHandlerScrubsMessagesMetadataAndErrors() {
        let capture = Capture()
        var logger = Logger(label: "t") { _ in RedactingLogHandler(capture) }
        logger[metadataKey: "url"] = "postgresql://u:hidden@h/db"
        logger.info(
            "retrying postgresql://u:secret1@h/db", metadata: ["conf": .dictionary(["password": "x", "dsn": "pwd=secret2 host=h"])])
        logger.log(level: .error, "failed", error: Failure())
        let text = capture.lines.joined(separator: "\n")
        for secret in ["hidden", "secret1", "secret2", "pw@"] {
            #expect(!text.contains(secret), "\(secret) leaked: \(text)")
        }
        #expect(text.contains("postgresql://u:***@h/db") && text.contains("pwd=***"), "\(text)")
    }
}
