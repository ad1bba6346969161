import Flow

/// A `dpone doctor` check of an HTTP endpoint: any answer below 500 means it is reachable.
public enum HTTPProbe {
    /// GETs `url` on a thread of its own (libcurl blocks); `secrets` are masked in the detail.
    public static func get(_ url: String, name: String, secrets: [String] = [], startHint: String? = nil) async -> DoctorProbe {
        func mask(_ text: String) -> String {
            Redaction.scrub(secrets.filter { !$0.isEmpty }.reduce(text) { $0.replacingOccurrences(of: $1, with: Redaction.mask) })
        }
        let thread = DedicatedThread(name: "dpone-doctor-http")
        defer { thread.stop() }
        let outcome: Result<HTTPExchange.Response, HTTPExchange.TransportFailure>
        do {
            outcome = try await thread.run {
                let http = HTTPExchange()
                defer { http.close() }
                do throws(HTTPExchange.TransportFailure) {
                    return .success(try http.perform(.get, url: url, headers: [], body: nil, timeoutSeconds: 5, bodyLimit: 1 << 20, cancel: HTTPCancel()))
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            return DoctorProbe(name: name, outcome: .failed, detail: "\(error)")
        }
        switch outcome {
        case .success(let response) where response.status < 500:
            return DoctorProbe(
                name: name, outcome: response.status < 400 ? .ok : .warning, detail: "HTTP \(response.status) from \(mask(url))",
                fix: response.status < 400 ? nil : "reachable, but the answer is an error: check the credentials and the path")
        case .success(let response):
            return DoctorProbe(name: name, outcome: .failed, detail: "HTTP \(response.status) from \(mask(url))", fix: "the server answers with errors: check its logs")
        case .failure(let failure):
            return DoctorProbe(
                name: name, outcome: .failed, detail: "\(mask(url)): \(mask(failure.message))",
                fix: startHint ?? "check that the service runs and the URL")
        }
    }
}
