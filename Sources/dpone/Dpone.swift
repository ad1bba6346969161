import ArgumentParser
import Flow
import Foundation

/// The dpone command line. Exit codes: 0 success, 1 run failed, 2 bad usage or invalid manifest.
struct Dpone: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "dpone",
        abstract: "Move tables and change streams exactly once, with flat memory.",
        version: "dpone \(version)",
        subcommands: [BatchCommand.self, StreamCommand.self, BackfillCommand.self, ResumeCommand.self, ManifestCommand.self, StateCommand.self, DoctorCommand.self]
    )
}

@main
enum Entry {
    static func main() async {
        Memory.configureAllocator()
        Logs.bootstrap()
        do {
            var command = try Dpone.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            terminate(0)
        } catch let error as DponeError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            terminate(error.exitCode)
        } catch let exit as ExitCode {
            terminate(exit.rawValue)
        } catch {
            let code = Dpone.exitCode(for: error)
            if code == .success {
                Dpone.exit(withError: error)
            }
            FileHandle.standardError.write(Data((Dpone.fullMessage(for: error) + "\n").utf8))
            // Usage errors exit 2 (ArgumentParser's default is EX_USAGE, 64).
            terminate(code == .validationFailure ? 2 : code.rawValue)
        }
    }

    /// Ends the process without running C `atexit` handlers: the work is done and durable by now,
    /// and library destructors (OpenSSL's cleanup among them) racing with threads librdkafka, libpq
    /// or libcurl still own crashed the process at exit, turning a successful run into signal 11.
    static func terminate(_ code: Int32) -> Never {
        fflush(nil)  // every C stream; Swift's print goes through stdout's buffer
        _exit(code)
    }
}
