import Flow
import Foundation
import Logging

/// swift-log on standard error. `DPONE_LOG_LEVEL` (trace|debug|info|notice|warning|error) sets the
/// level; the default is `warning` so that command output stays clean. Nothing secret is logged:
/// every message and metadata value passes `Redaction` (`RedactingLogHandler`) on its way out.
enum Logs {
    static func bootstrap() {
        let level = ProcessInfo.processInfo.environment["DPONE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = RedactingLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
    }
}
