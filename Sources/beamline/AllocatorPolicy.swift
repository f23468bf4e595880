import CMalloc

/// How the process asks the C allocator for memory, set once before any subcommand runs.
enum AllocatorPolicy {
    /// Keeps large buffers on the heap and freed memory in the process.
    ///
    /// glibc maps every allocation above its mmap threshold afresh and unmaps it at `free`, and
    /// the threshold cannot be raised past 32 MiB (mallopt(3), `M_MMAP_THRESHOLD`: at most half
    /// of `HEAP_MAX_SIZE`, 64 MiB on 64-bit). A 3450 × 3450 frame of 4-byte values is 47.6 MB, as
    /// are the pass masks and flags of sigma clipping: each one came from the kernel zeroed and was
    /// faulted in page by page at every allocation (one plate through `integrate`: 51 600 page
    /// faults, 38 900 with this policy). With `M_MMAP_MAX` 0 such buffers come from the heap;
    /// with a trim threshold of 2 GiB a freed buffer's pages stay for the next one. The price is
    /// peak RSS where freed buffers cannot be reused in place (`prepare` 529 → 578 MB, six bbox
    /// frames in one process 646 → 741 MB; one plate unchanged); a `beamline` process is
    /// short-lived.
    static func keepLargeBuffersOnTheHeap() {
        // A refusal (another C library) leaves the allocator's defaults: slower, not wrong.
        _ = cmalloc_set_mmap_max(0)
        _ = cmalloc_set_trim_threshold(Int32.max)
    }
}
