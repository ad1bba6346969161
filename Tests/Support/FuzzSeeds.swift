import Foundation

/// The committed seed corpora of `dpone-fuzz` (`Fuzz/corpus/<target>/`) are made from the golden
/// inputs of the decoders' tests. Each test suite that owns goldens checks here that its seeds are
/// committed byte for byte; `DPONE_WRITE_FUZZ_SEEDS=1` (re)writes them instead.
public enum FuzzSeeds {
    public static let corpusRoot =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    /// The names of `seeds` whose committed file is missing or differs (empty when all match).
    public static func mismatches(target: String, _ seeds: [(name: String, bytes: [UInt8])]) throws -> [String] {
        let dir = corpusRoot.appendingPathComponent(target)
        let write = ProcessInfo.processInfo.environment["DPONE_WRITE_FUZZ_SEEDS"] == "1"
        if write { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        var wrong: [String] = []
        for seed in seeds {
            let file = dir.appendingPathComponent("golden-\(seed.name)")
            if write { try Data(seed.bytes).write(to: file) }
            if FileManager.default.contents(atPath: file.path).map(Array.init) != seed.bytes { wrong.append(seed.name) }
        }
        return wrong
    }

    /// A seed for targets whose first byte picks the split point or mode: `mode` then `bytes`.
    public static func moded(_ mode: UInt8, _ bytes: [UInt8]) -> [UInt8] { [mode] + bytes }
}
