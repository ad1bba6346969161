import Flow
import Foundation

/// Time as the REST client's retries and rate limits see it: wall seconds (an HTTP-date
/// `Retry-After` is wall time) and a sleep. Tests inject a virtual clock that records each wait and
/// advances without sleeping.
public protocol RESTClock: Sendable {
    /// Seconds since 1970.
    func now() -> Double
    func sleep(seconds: Double) async throws
}

/// The process's clock.
public struct SystemRESTClock: RESTClock {
    public init() {}
    public func now() -> Double { Date().timeIntervalSince1970 }
    public func sleep(seconds: Double) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up))))
    }
}

/// Replaces every secret of the options (and its percent-encoded and base64 forms) by `***` in text
/// bound for a log, an error or an artifact, then applies the project's `Redaction` (a URL's
/// password, `api_key=...` and other secret-named settings written into a path or a body).
public struct RESTMasker: Sendable {
    let secrets: [String]

    public init(_ secrets: [String]) {
        var all: [String] = []
        for s in secrets where s.count >= 3 {
            all.append(s)
            if let encoded = s.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != s { all.append(encoded) }
            let base64 = Data(s.utf8).base64EncodedString()
            all.append(base64)
        }
        self.secrets = all.sorted { $0.count > $1.count }
    }

    public func mask(_ text: String) -> String {
        var out = text
        for s in secrets where out.contains(s) { out = out.replacingOccurrences(of: s, with: Redaction.mask) }
        return Redaction.scrub(out)
    }
}
