#if canImport(Glibc)
import Glibc
#endif

import Pipeline

enum Memory {
    /// Batches are large, short-lived buffers. With glibc's default dynamic mmap threshold, the first
    /// freed multi-megabyte buffer raises the threshold so later ones come from the heap and stay
    /// resident after they are freed: memory then grows with the run instead of staying flat. A fixed
    /// threshold sends every buffer over 256 KiB to mmap, so a freed batch goes back to the OS.
    /// `MALLOC_MMAP_THRESHOLD_` / `MALLOC_ARENA_MAX` in the environment win.
    static func configureAllocator() {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which the Glibc module does not export.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
        let arenaMax: Int32 = -8  // M_ARENA_MAX
        if getenv("MALLOC_MMAP_THRESHOLD_") == nil { _ = mallopt(mmapThreshold, ProcessMemory.mmapThreshold) }
        if getenv("MALLOC_ARENA_MAX") == nil { _ = mallopt(arenaMax, ProcessMemory.arenaMax) }
        #endif
    }
}
