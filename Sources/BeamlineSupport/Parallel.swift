import Dispatch
import Foundation

/// Splits work over the machine's cores, in contiguous chunks.
public enum Parallel {
    /// Worker count: the active cores, at least one; `BEAMLINE_THREADS` sets it (a make
    /// running several recipes at once gives each one thread rather than all of them all cores).
    public static let workers: Int = {
        if let text = ProcessInfo.processInfo.environment["BEAMLINE_THREADS"], let n = Int(text), n >= 1 {
            return min(n, 256)
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Calls `body` on `parts` contiguous sub-ranges of `0..<count` concurrently.
    public static func forEachChunk(_ count: Int, parts: Int = workers, _ body: (Int, Range<Int>) -> Void) {
        let parts = max(1, min(parts, count))
        if parts == 1 {
            body(0, 0 ..< count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let lower = count * part / parts, upper = count * (part + 1) / parts
            body(part, lower ..< upper)
        }
    }

    /// `body` on contiguous sub-ranges of `0..<count`, one per worker, concurrently; results in
    /// range order (partial sums, extents, tallies to combine).
    public static func mapChunks<T>(_ count: Int, _ body: (Range<Int>) -> T) -> [T] {
        let parts = max(1, min(workers, count))
        return map(parts) { part in body(count * part / parts ..< count * (part + 1) / parts) }
    }

    /// Calls `body` on the given ranges concurrently.
    public static func forEach(_ ranges: [Range<Int>], _ body: (Int, Range<Int>) -> Void) {
        if ranges.count == 1 {
            body(0, ranges[0])
            return
        }
        DispatchQueue.concurrentPerform(iterations: ranges.count) { part in body(part, ranges[part]) }
    }

    /// `body(i)` for every i in `0..<count`, each index a task taken by the next free worker
    /// (for work items of uneven cost), results in index order.
    public static func map<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
        guard count > 1, workers > 1 else { return (0 ..< max(0, count)).map(body) }
        var results = [T?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            DispatchQueue.concurrentPerform(iterations: count) { i in (base + i).pointee = body(i) }
        }
        return results.map { $0! }
    }
}
