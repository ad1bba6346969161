import Foundation

/// The BigQuery the BigQuery tests load into.
///
/// - Local layer (default): the emulator `scripts/bigquery.sh` starts, at `DPONE_TEST_BIGQUERY_HOST`
///   (`host:port`, default 127.0.0.1:19050), project `dpone-test`; the binary is sent
///   `BIGQUERY_EMULATOR_HOST`, as Google's clients read it.
/// - Vendor live layer: with `DPONE_RUN_INTEGRATION_LIVE=1` and `DPONE_CONN_BIGQUERY_PROJECT`, the
///   same suites run against that project with the credentials of `GOOGLE_APPLICATION_CREDENTIALS`
///   (or the metadata server), in datasets named `dpone_test_*`.
public enum BigQueryTestServer {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Whether the suites run against real BigQuery.
    public static var isLive: Bool {
        IntegrationGate.live.isOpen && !(environment["DPONE_CONN_BIGQUERY_PROJECT"] ?? "").isEmpty
    }

    public static var project: String {
        isLive ? environment["DPONE_CONN_BIGQUERY_PROJECT"]! : (environment["DPONE_BIGQUERY_PROJECT"] ?? "dpone-test")
    }

    /// The emulator's `host:port` (nil live).
    public static var host: String? {
        if isLive { return nil }
        let configured = environment["DPONE_TEST_BIGQUERY_HOST"] ?? ""
        return configured.isEmpty ? "127.0.0.1:19050" : configured.replacingOccurrences(of: "http://", with: "")
    }

    /// What a `dpone` process needs to reach it: `BIGQUERY_EMULATOR_HOST` locally; live, the
    /// credentials it inherits.
    public static var processEnvironment: [String: String] { host.map { ["BIGQUERY_EMULATOR_HOST": $0] } ?? [:] }

    /// Fails (does not skip) when the gate is open and the emulator does not answer.
    public static func require() throws {
        guard let host else { return }
        let parts = host.split(separator: ":")
        try IntegrationGate.requireService("the BigQuery emulator", host: String(parts[0]), port: Int(parts.last ?? "19050") ?? 19050)
    }

    /// A dataset name no other test uses.
    public static func uniqueDataset(_ prefix: String) -> String {
        "dpone_test_\(prefix)_\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }
}
