import Foundation

// dpone-fuzz: the libFuzzer entry of dpone's decoders. `scripts/fuzz.sh` builds it with coverage and
// AddressSanitizer and links libFuzzer; `DPONE_FUZZ_TARGET` names the decoder (see `FuzzTarget`).
//
// Built without libFuzzer (the normal `swift build`), it replays the files given as arguments once
// each through the target: the way a crash found by fuzzing is reproduced in a debugger.

typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
typealias RunDriver = @convention(c) (
    UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>, FuzzCallback
) -> CInt

let targetName = ProcessInfo.processInfo.environment["DPONE_FUZZ_TARGET"] ?? ""
guard let target = FuzzTarget(rawValue: targetName) else {
    FileHandle.standardError.write(
        Data("dpone-fuzz: set DPONE_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
    exit(2)
}
// One global target: libFuzzer's callback is a C function and cannot capture it.
nonisolated(unsafe) var selected = target

/// Runs every file named (or in a directory named) in `arguments` once through the target.
func replay(_ arguments: ArraySlice<String>) -> Int {
    var replayed = 0
    for path in arguments where !path.hasPrefix("-") {
        var isDirectory: ObjCBool = false
        let paths: [String]
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            paths = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
        } else {
            paths = [path]
        }
        for file in paths {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("dpone-fuzz: cannot read \(file)\n".utf8))
                exit(2)
            }
            data.withUnsafeBytes { target.run($0) }
            replayed += 1
        }
    }
    return replayed
}

// The corpus runs once before libFuzzer starts: lazily initialised globals (schemas, decoders, the
// runtime's caches) are then in place, so LeakSanitizer's per-input check sees only what an input
// itself leaks. (Some of those globals hold pointers in enum spare bits, which LeakSanitizer cannot
// follow; allocated during an input, they would be reported as leaks.)
let replayed = replay(CommandLine.arguments.dropFirst())

if let symbol = dlsym(nil, "LLVMFuzzerRunDriver") {
    let driver = unsafeBitCast(symbol, to: RunDriver.self)
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = withUnsafeMutablePointer(to: &argv) { argvPointer in
        driver(&argc, argvPointer) { data, size in
            selected.run(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
    }
    exit(status)
}
print("dpone-fuzz: \(targetName): replayed \(replayed) inputs without a crash (built without libFuzzer)")
