import ConnectorKit
import Foundation
import Flow
import Manifest

/// `dpone doctor` for PostgreSQL: reachability and version, and what CDC and the sink need:
/// `wal_level`, free replication slots and WAL senders, the role's REPLICATION and CREATE rights.
extension PostgresDescriptor {
    public func doctor(_ document: ManifestDocument) async -> [DoctorProbe] {
        var probes: [DoctorProbe] = []
        if document.source.type == .postgres, let c = document.source.connection {
            probes += await Self.probe(url: c.resolved.url, name: "postgres source", needsReplication: document.source.options.cdc != nil)
        }
        if document.sink.type == .postgres, let c = document.sink.connection {
            probes += await Self.probe(url: c.resolved.url, name: "postgres sink", needsReplication: false)
        }
        return probes
    }

    /// Probes the server at `url`. `startHint` is the fix when nothing answers (the local profile's
    /// `scripts/postgres.sh start`). Replication settings fail when `needsReplication`, else warn.
    public static func probe(url: String, name: String, needsReplication: Bool, startHint: String? = nil) async -> [DoctorProbe] {
        let target = PostgresConnectionString(url)
        let pg: PostgresConnection
        do {
            pg = try await PostgresConnection.connect(url: url, statementTimeout: .seconds(10))
        } catch {
            return [
                DoctorProbe(
                    name: name, outcome: .failed, detail: "cannot connect to PostgreSQL at \(target.redacted): \(error)",
                    fix: startHint ?? "check that the server runs and the connection (host, port, user, password, database)")
            ]
        }
        defer { Task { await pg.close() } }
        var probes: [DoctorProbe] = []
        do {
            let row = try await pg.query(
                """
                SELECT current_setting('server_version'), current_setting('wal_level'),
                  (current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots))::text,
                  (current_setting('max_wal_senders')::int - (SELECT count(*) FROM pg_stat_replication))::text,
                  (SELECT (rolreplication OR rolsuper)::text FROM pg_roles WHERE rolname = current_user),
                  has_database_privilege(current_database(), 'CREATE')::text, current_user, current_database()
                """
            ).first ?? []
            func v(_ i: Int) -> String { i < row.count ? row[i] ?? "" : "" }
            let (version, walLevel, freeSlots, freeSenders, replication, create, user, database) =
                (v(0), v(1), Int(v(2)) ?? 0, Int(v(3)) ?? 0, v(4) == "true", v(5) == "true", v(6), v(7))
            let judged: DoctorProbe.Outcome = needsReplication ? .failed : .warning
            probes.append(DoctorProbe(name: name, outcome: .ok, detail: "PostgreSQL \(version) at \(target.redacted)"))
            probes.append(
                walLevel == "logical"
                    ? DoctorProbe(name: "\(name): wal_level", outcome: .ok, detail: "logical")
                    : DoctorProbe(
                        name: "\(name): wal_level", outcome: judged, detail: "\(walLevel) (CDC needs logical)",
                        fix: "ALTER SYSTEM SET wal_level = logical; then restart the server"))
            probes.append(
                freeSlots > 0 && freeSenders > 0
                    ? DoctorProbe(name: "\(name): replication capacity", outcome: .ok, detail: "\(freeSlots) free slots, \(freeSenders) free WAL senders")
                    : DoctorProbe(
                        name: "\(name): replication capacity", outcome: judged,
                        detail: "\(freeSlots) free replication slots, \(freeSenders) free WAL senders",
                        fix: "drop unused slots (SELECT pg_drop_replication_slot(name)) or raise max_replication_slots / max_wal_senders and restart"))
            probes.append(
                replication
                    ? DoctorProbe(name: "\(name): role \(user) REPLICATION", outcome: .ok, detail: "granted")
                    : DoctorProbe(
                        name: "\(name): role \(user) REPLICATION", outcome: judged, detail: "missing (CDC opens a replication connection)",
                        fix: "ALTER ROLE \(PostgresSQL.quoteIdentifier(user)) REPLICATION;"))
            probes.append(
                create
                    ? DoctorProbe(name: "\(name): CREATE on \(database)", outcome: .ok, detail: "granted")
                    : DoctorProbe(
                        name: "\(name): CREATE on \(database)", outcome: .failed,
                        detail: "missing (staging tables, the ledger and publications are created)",
                        fix: "GRANT CREATE ON DATABASE \(PostgresSQL.quoteIdentifier(database)) TO \(PostgresSQL.quoteIdentifier(user));"))
            let before = Date().timeIntervalSince1970
            let now = try await pg.query("SELECT extract(epoch FROM clock_timestamp())::text").first?[0].flatMap { Double($0) }
            let after = Date().timeIntervalSince1970
            if let now { probes.append(DoctorProbe.clock(name: "\(name): clock", server: now, before: before, after: after)) }
        } catch {
            probes.append(DoctorProbe(name: name, outcome: .failed, detail: "connected, but the checks failed: \(error)"))
        }
        return probes
    }
}
