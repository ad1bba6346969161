import Foundation
import Pipeline
import Synchronization

/// Prints the live progress line (rows, rows/s, MB/s) on standard error.
final class ProgressReporter: Sendable {
    private let live: Bool
    let isEnabled: Bool
    private let lastPrint = Mutex<Double>(0)
    private let printedLive = Mutex(false)

    init(mode: ProgressMode) {
        let tty = isatty(STDERR_FILENO) == 1
        switch mode {
        case .auto: live = tty; isEnabled = tty
        case .plain: live = false; isEnabled = true
        case .none: live = false; isEnabled = false
        }
    }

    /// Called about every 250 ms while the run is going.
    func update(_ sample: ProgressSample) {
        let interval = live ? 0.25 : 5
        let due = lastPrint.withLock { last -> Bool in
            guard sample.elapsedSeconds - last >= interval else { return false }
            last = sample.elapsedSeconds
            return true
        }
        guard due else { return }
        let line = sample.line
        if live {
            printedLive.withLock { $0 = true }
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
        } else {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    /// A line of its own (a backfill chunk finished), clearing a live line first.
    func line(_ text: String) {
        if live, printedLive.withLock({ $0 }) { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        FileHandle.standardError.write(Data("\(text)\n".utf8))
    }

    func finish() {
        if printedLive.withLock({ $0 }) { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}
