import Foundation

/// The BigQuery emulator the local layer loads into (`scripts/bigquery.sh` starts it):
/// `DPONE_TEST_BIGQUERY_HOST` (`host:port`, default 127.0.0.1:19050), project `dpone-test`.
/// Tests send it `BIGQUERY_EMULATOR_HOST`, as Google's clients read it.
public enum BigQueryTestServer {
    public static let project = ProcessInfo.processInfo.environment["DPONE_BIGQUERY_PROJECT"] ?? "dpone-test"

    public static var host: String {
        let configured = ProcessInfo.processInfo.environment["DPONE_TEST_BIGQUERY_HOST"] ?? ""
        return configured.isEmpty ? "127.0.0.1:19050" : configured.replacingOccurrences(of: "http://", with: "")
    }

    /// Fails (does not skip) when the gate is open and the emulator does not answer.
    public static func require() throws {
        let parts = host.split(separator: ":")
        try IntegrationGate.requireService("the BigQuery emulator", host: String(parts[0]), port: Int(parts.last ?? "19050") ?? 19050)
    }

    /// A dataset name no other test uses.
    public static func uniqueDataset(_ prefix: String) -> String {
        "dpone_test_\(prefix)_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }
}
