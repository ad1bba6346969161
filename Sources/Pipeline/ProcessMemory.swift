import Foundation

/// Memory figures of the current process, from /proc (Linux).
public enum ProcessMemory {
    /// The glibc mmap threshold dpone sets at start (`M_MMAP_THRESHOLD`) unless
    /// `MALLOC_MMAP_THRESHOLD_` is set: every buffer above it is mmapped, so a freed batch goes
    /// back to the OS instead of staying resident.
    public static let mmapThreshold: Int32 = 256 * 1024
    /// The glibc arena limit dpone sets (`M_ARENA_MAX`) unless `MALLOC_ARENA_MAX` is set.
    public static let arenaMax: Int32 = 4

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
