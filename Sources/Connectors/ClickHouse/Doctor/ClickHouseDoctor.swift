import ConnectorKit
import Foundation
import Flow
import Manifest

/// `dpone doctor` for ClickHouse: reachability, version, and the capabilities dpone relies on.
extension ClickHouseDescriptor {
    public func doctor(_ document: ManifestDocument) async -> [DoctorProbe] {
        var probes: [DoctorProbe] = []
        if document.source.type == .clickhouse, let c = document.source.connection {
            probes += await Self.probe(url: c.resolved.url, display: c.resolved.redactedURL, name: "clickhouse source")
        }
        if document.sink.type == .clickhouse, let c = document.sink.connection {
            probes += await Self.probe(url: c.resolved.url, display: c.resolved.redactedURL, name: "clickhouse sink")
        }
        return probes
    }

    /// Probes the server at `url` (`display`: the URL without its password).
    public static func probe(url: String, display: String, name: String, startHint: String? = nil) async -> [DoctorProbe] {
        do {
            let client = try ClickHouseClient(url: url)
            defer { Task { await client.close() } }
            let info = try await client.serverInfo()
            let used: [ClickHouseCapability] = [.dateTime64, .lightweightDelete, .exchangeTables, .bool, .queryParameters]
            let have = used.filter { info.supports($0) }.map(\.description)
            let lacking = used.filter { !info.supports($0) }.map(\.description)
            var probes = [DoctorProbe(name: name, outcome: .ok, detail: "ClickHouse \(info.version) at \(display)")]
            probes.append(
                DoctorProbe(
                    name: "\(name): capabilities", outcome: lacking.isEmpty ? .ok : .info,
                    detail: "has \(have.isEmpty ? "none" : have.joined(separator: ", "))"
                        + (lacking.isEmpty ? "" : "; older server without \(lacking.joined(separator: ", ")): dpone uses its fallbacks (RENAME swaps, ALTER TABLE DELETE, UInt8 for Bool)")))
            // Whole seconds: every server version has toUnixTimestamp(now()).
            let before = Date().timeIntervalSince1970
            let now = try await client.queryRows("SELECT toString(toUnixTimestamp(now()))").first?.first.flatMap { Double($0) }
            let after = Date().timeIntervalSince1970
            if let now { probes.append(DoctorProbe.clock(name: "\(name): clock", server: now, before: before, after: after, resolution: 1)) }
            return probes
        } catch {
            return [
                DoctorProbe(
                    name: name, outcome: .failed, detail: "cannot reach ClickHouse at \(display): \(error)",
                    fix: startHint ?? "check that the server runs and the URL (http://user:password@host:8123/)")
            ]
        }
    }
}
