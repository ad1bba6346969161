import ArgumentParser
import ConnectorKit
import Flow
import Foundation
import Manifest
import Pipeline

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that the services and the manifests' endpoints are reachable and usable.",
        discussion: """
            Really connects. Profile local (and ci) checks the services scripts/test.sh starts \
            (PostgreSQL, ClickHouse 18.16 and modern, the Kafka mock cluster, the schema registry) at \
            their default addresses or the DPONE_TEST_*_URL variables; production checks only the \
            manifests. With manifests, each endpoint is checked (version, replication settings and \
            rights, capabilities, topics) and its state store. Every failure names a fix. Exit 0 when \
            no check failed, 1 otherwise.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "local, ci or production.")
    var profile: String = "local"

    @Option(help: "text or json.")
    var format: Format = .text

    @Argument(help: "Manifests whose endpoints to check.")
    var manifests: [String] = []

    func run() async throws {
        guard let profile = DoctorProfile(rawValue: profile) else {
            throw ValidationError("unknown profile '\(profile)'; expected one of: local, ci, production")
        }
        let documents = try manifests.map { try ManifestCommand.loadOrExit($0) }
        let report = await Doctor.run(profile: profile, manifests: documents)
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        case .text:
            for check in report.checks {
                let mark =
                    switch check.outcome {
                    case .ok: "ok  "
                    case .warning: "warn"
                    case .failed: "FAIL"
                    case .info: "info"
                    }
                print("\(mark) \(check.name): \(check.detail)")
                if let fix = check.fix, check.outcome == .failed || check.outcome == .warning { print("     fix: \(fix)") }
            }
            let failed = report.checks.filter { $0.outcome == .failed }.count
            print(failed == 0 ? "doctor (\(profile.rawValue)): every required check passed" : "doctor (\(profile.rawValue)): \(failed) check(s) failed")
        }
        if !report.passed { throw ExitCode(1) }
    }
}
