import ClickHouseConnector
import ConnectorKit
import Flow
import Foundation
import KafkaConnector
import Manifest
import PostgresConnector

/// What `dpone doctor` requires.
public enum DoctorProfile: String, Sendable, CaseIterable {
    /// The services `scripts/test.sh` starts on this machine must answer.
    case local
    /// As local (CI runs the same services).
    case ci
    /// Only the manifests' own endpoints; insecure settings are refused.
    case production
}

/// `dpone doctor`'s findings: every check, and whether the required ones passed.
public struct DoctorReport: Sendable, Encodable {
    public var profile: String
    public var checks: [DoctorProbe]
    public var passed: Bool { !checks.contains { $0.outcome == .failed } }

    enum CodingKeys: String, CodingKey { case profile, checks, passed }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(profile, forKey: .profile)
        try c.encode(checks, forKey: .checks)
        try c.encode(passed, forKey: .passed)
    }
}

/// Checks that really connect: the local services (profiles `local` and `ci`), each manifest's
/// endpoints (through their connectors' `doctor`), its state store, disk space and the native
/// clients the troubleshooting guide names.
public enum Doctor {
    /// The local services and where `scripts/*.sh` starts them; each URL can be overridden by the
    /// variable the script's `start` output is exported as in `scripts/test.sh`.
    static func localServices(_ env: [String: String]) -> [(name: String, probe: @Sendable () async -> [DoctorProbe])] {
        func value(_ key: String, _ fallback: String) -> String { env[key].flatMap { $0.isEmpty ? nil : $0 } ?? fallback }
        let pg = value("DPONE_TEST_POSTGRES_URL", "postgresql://dpone:dpone@127.0.0.1:55432/dpone")
        let ch = value("DPONE_TEST_CLICKHOUSE_URL", "http://dpone:dpone@127.0.0.1:18123/")
        let modern = value("DPONE_TEST_CLICKHOUSE_MODERN_URL", "http://127.0.0.1:18124/")
        let control = value("DPONE_TEST_KAFKA_CONTROL", "127.0.0.1:19092")
        let registry = value("DPONE_TEST_SCHEMA_REGISTRY_URL", "http://127.0.0.1:18081")
        let bigquery = value("DPONE_TEST_BIGQUERY_HOST", "127.0.0.1:19050").replacingOccurrences(of: "http://", with: "")
        let project = value("DPONE_BIGQUERY_PROJECT", "dpone-test")
        return [
            ("PostgreSQL", { await PostgresDescriptor.probe(url: pg, name: "PostgreSQL (local)", needsReplication: true, startHint: "start it: scripts/postgres.sh start") }),
            ("ClickHouse 18.16", { await ClickHouseDescriptor.probe(url: ch, display: Redaction.scrub(ch), name: "ClickHouse 18.16 (local)", startHint: "start it: scripts/clickhouse.sh start") }),
            ("ClickHouse modern", { await ClickHouseDescriptor.probe(url: modern, display: Redaction.scrub(modern), name: "ClickHouse modern (local)", startHint: "start it: scripts/clickhouse-modern.sh start") }),
            ("Kafka", {
                guard let bootstrap = KafkaDescriptor.mockBootstrap(control: control) else {
                    return [DoctorProbe(name: "Kafka mock cluster (local)", outcome: .failed, detail: "its control port \(control) does not answer", fix: "start it: scripts/kafka.sh start")]
                }
                return await KafkaDescriptor.probe(properties: KafkaProperties(["bootstrap.servers": bootstrap]), name: "Kafka mock cluster (local)", topic: nil, startHint: "restart it: scripts/kafka.sh stop; scripts/kafka.sh start")
            }),
            ("schema registry", { [await HTTPProbe.get(registry + "/subjects", name: "schema registry (local)", startHint: "start it: scripts/schema-registry.sh start")] }),
            ("BigQuery emulator", {
                [
                    await HTTPProbe.get(
                        "http://\(bigquery)/bigquery/v2/projects/\(project)/datasets", name: "BigQuery emulator (local)",
                        startHint: "start it: scripts/bigquery.sh start")
                ]
            }),
        ]
    }

    public static func run(
        profile: DoctorProfile, manifests: [ManifestDocument], environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> DoctorReport {
        var checks: [DoctorProbe] = []
        if profile != .production {
            for service in localServices(environment) { checks += await service.probe() }
        }
        for document in manifests {
            var seen = Set<String>()
            for type in [document.source.type, document.sink.type] where seen.insert(type.rawValue).inserted {
                guard let descriptor = try? ConnectorRegistry.descriptor(for: type, role: "endpoint") else { continue }
                checks += await descriptor.doctor(document).map { probe in
                    var p = probe
                    p.name = "\(document.name): \(p.name)"
                    return p
                }
            }
            checks.append(stateStore(document))
            if let lock = await stateLock(document) { checks.append(lock) }
        }
        checks.append(odbcDrivers(environment))
        checks.append(diskSpace(path: FileManager.default.temporaryDirectory.path))
        checks.append(allocator(environment))
        if profile == .production, let address = environment["DPONE_METRICS_ADDRESS"], address.hasPrefix("0.0.0.0") {
            checks.append(
                DoctorProbe(
                    name: "metrics address", outcome: .failed, detail: "\(address) exposes the metrics endpoint on every interface",
                    fix: "bind it to 127.0.0.1 or an internal interface behind a firewall"))
        }
        checks += await nativeClients(environment)
        return DoctorReport(profile: profile.rawValue, checks: checks)
    }

    /// The run lock of the pipeline's state store is taken and released (a lock file, or the
    /// PostgreSQL store's advisory lock). Held by a run of the pipeline right now: a warning.
    static func stateLock(_ document: ManifestDocument) async -> DoctorProbe? {
        guard document.state.type != .disabled else { return nil }
        let name = "\(document.name): state lock"
        do {
            guard let lock = try await StateStores.lock(for: document, override: nil) else {
                return DoctorProbe(name: name, outcome: .info, detail: "the \(document.state.type.rawValue) store keeps no run lock")
            }
            await lock.release()
            return DoctorProbe(name: name, outcome: .ok, detail: "taken and released (\(document.state.type.rawValue) store)")
        } catch let error as DponeError where error.kind == .state {
            return DoctorProbe(name: name, outcome: .warning, detail: error.message, fix: error.hint)
        } catch {
            return DoctorProbe(
                name: name, outcome: .failed, detail: "cannot take the run lock: \(error)",
                fix: "check the state store's location and permissions (state.dir, or its connection)")
        }
    }

    /// The glibc mmap threshold a run uses: dpone's, or `MALLOC_MMAP_THRESHOLD_`. Above a few MiB,
    /// freed batches stay resident and memory grows with the run.
    static func allocator(_ env: [String: String]) -> DoctorProbe {
        let name = "allocator mmap threshold"
        let arena = env["MALLOC_ARENA_MAX"].map { "MALLOC_ARENA_MAX=\($0)" } ?? "\(ProcessMemory.arenaMax) arenas"
        guard let given = env["MALLOC_MMAP_THRESHOLD_"] else {
            return DoctorProbe(
                name: name, outcome: .ok,
                detail: "\(ProcessMemory.mmapThreshold / 1024) KiB, dpone's setting (freed batches go back to the OS); \(arena)")
        }
        guard let bytes = Int(given), bytes >= 0 else {
            return DoctorProbe(
                name: name, outcome: .warning, detail: "MALLOC_MMAP_THRESHOLD_=\(given) is not a byte count (glibc ignores it)",
                fix: "unset MALLOC_MMAP_THRESHOLD_ (dpone sets \(ProcessMemory.mmapThreshold / 1024) KiB)")
        }
        if bytes > 4 << 20 {
            return DoctorProbe(
                name: name, outcome: .warning,
                detail: "\(bytes) bytes from MALLOC_MMAP_THRESHOLD_: batches below it come from the heap and can stay resident after they are freed, so memory grows with the run",
                fix: "unset MALLOC_MMAP_THRESHOLD_ (dpone sets \(ProcessMemory.mmapThreshold / 1024) KiB)")
        }
        return DoctorProbe(name: name, outcome: .info, detail: "\(bytes) bytes, from MALLOC_MMAP_THRESHOLD_; \(arena)")
    }

    /// The file state store's directory is writable (a temporary file is created and removed).
    static func stateStore(_ document: ManifestDocument) -> DoctorProbe {
        let name = "\(document.name): state store"
        guard document.state.type == .file else {
            return DoctorProbe(name: name, outcome: .info, detail: "\(document.state.type.rawValue) store (checked with its connection)")
        }
        let dir = document.state.directory ?? ".dpone-state"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let probe = "\(dir)/.dpone-doctor-\(UUID().uuidString)"
            guard FileManager.default.createFile(atPath: probe, contents: Data("ok".utf8)) else {
                throw DponeError(.io, "cannot create a file in \(dir)")
            }
            try FileManager.default.removeItem(atPath: probe)
            return DoctorProbe(name: name, outcome: .ok, detail: "\(dir) is writable")
        } catch {
            return DoctorProbe(name: name, outcome: .failed, detail: "\(dir): \(error)", fix: "create the directory or fix its permissions (state.dir)")
        }
    }

    /// The ODBC drivers unixODBC has registered (the sections of odbcinst.ini in `ODBCSYSINI`, else
    /// /etc), for `odbc` and `mssql` endpoints: information, a warning when there is none.
    static func odbcDrivers(_ env: [String: String]) -> DoctorProbe {
        let dir = env["ODBCSYSINI"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc"
        let path = "\(dir)/odbcinst.ini"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return DoctorProbe(
                name: "ODBC drivers", outcome: .warning, detail: "no \(path)",
                fix: "install unixODBC and a driver (odbc and mssql endpoints need one); scripts/odbc.sh registers the test drivers")
        }
        let drivers = text.split(separator: "\n").compactMap { line -> String? in
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("["), t.hasSuffix("]"), t != "[ODBC]" else { return nil }
            return String(t.dropFirst().dropLast())
        }
        return drivers.isEmpty
            ? DoctorProbe(name: "ODBC drivers", outcome: .warning, detail: "none registered in \(path)", fix: "register a driver in \(path) (odbcinst -i -d -f ...)")
            : DoctorProbe(name: "ODBC drivers", outcome: .ok, detail: "\(drivers.joined(separator: ", ")) (\(path))")
    }

    /// Free space where staged files and spills go: a warning under 1 GiB.
    static func diskSpace(path: String) -> DoctorProbe {
        let free = (try? FileManager.default.attributesOfFileSystem(forPath: path)[.systemFreeSize] as? NSNumber)?.int64Value ?? -1
        let gib = Double(free) / 1_073_741_824
        if free < 0 { return DoctorProbe(name: "disk space", outcome: .info, detail: "unknown for \(path)") }
        return DoctorProbe(
            name: "disk space", outcome: gib < 1 ? .warning : .ok, detail: String(format: "%.1f GiB free in %@", gib, path),
            fix: gib < 1 ? "free space: staged files are written there" : nil)
    }

    /// The versions of the native clients the troubleshooting guide names, as information (asked on
    /// a thread of its own: running a process blocks).
    static func nativeClients(_ env: [String: String]) async -> [DoctorProbe] {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: nativeClientsBlocking(env)) }.start()
        }
    }

    static func nativeClientsBlocking(_ env: [String: String]) -> [DoctorProbe] {
        let paths = (env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        var probes: [DoctorProbe] = []
        for (tool, flag) in [("psql", "--version"), ("clickhouse-client", "--version"), ("bcp", "-v"), ("freebcp", "-v"), ("sqlcmd", "-?"), ("tsql", "-C")] {
            guard let path = paths.map({ "\($0)/\(tool)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                probes.append(DoctorProbe(name: "client \(tool)", outcome: .info, detail: "not installed"))
                continue
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = [flag]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            var line = path
            if (try? process.run()) != nil {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                line = String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? path
            }
            probes.append(DoctorProbe(name: "client \(tool)", outcome: .info, detail: line.trimmingCharacters(in: .whitespaces)))
        }
        return probes
    }
}
