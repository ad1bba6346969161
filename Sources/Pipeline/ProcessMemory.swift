import Foundation

/// Memory figures of the current process, from /proc (Linux).
public enum ProcessMemory {
    /// Peak resident set size (VmHWM) in bytes, 0 where unknown.
    public static func peakRSSBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return digits * 1024
        }
        return 0
    }
}
