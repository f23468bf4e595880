import Foundation

/// Read-only contiguous values of an integration engine, held either in memory the engine
/// allocated or in a read-only mapping of an engine file.
///
/// A mapped engine costs no copy and no fresh memory: the pages are the file's pages in the
/// page cache, shared by every process of a run that maps the same file. Public for the
/// per-pixel arrays stored beside an engine (`IntegrationEngine.load`'s attachments).
public struct EngineArray<Element>: RandomAccessCollection, @unchecked Sendable {
    private let owner: EngineMemoryOwner?
    let baseAddress: UnsafePointer<Element>?
    public let count: Int

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    @inline(__always)
    public subscript(position: Int) -> Element { baseAddress.unsafelyUnwrapped[position] }

    /// A copy of `values` in memory of its own.
    public init(_ values: [Element]) {
        count = values.count
        guard !values.isEmpty else {
            owner = nil
            baseAddress = nil
            return
        }
        let storage = UnsafeMutablePointer<Element>.allocate(capacity: values.count)
        values.withUnsafeBufferPointer { storage.initialize(from: $0.baseAddress!, count: $0.count) }
        owner = EngineMemoryOwner { storage.deallocate() }
        baseAddress = UnsafePointer(storage)
    }

    /// `count` copies of `value` in memory of its own, to be filled once through
    /// `mutableAddress` while the engine is built, and read only afterwards.
    init(count: Int, repeating value: Element) {
        self.count = count
        guard count > 0 else {
            owner = nil
            baseAddress = nil
            return
        }
        let zero = withUnsafeBytes(of: value) { $0.allSatisfy { $0 == 0 } }
        if zero, _isPOD(Element.self), let memory = calloc(count, MemoryLayout<Element>.stride) {
            // Zeros from calloc: a large block comes as fresh zero pages, faulted in later by the
            // workers that fill them, not written twice (zeros first, here, on one core).
            owner = EngineMemoryOwner { free(memory) }
            baseAddress = UnsafePointer(memory.assumingMemoryBound(to: Element.self))
            return
        }
        let storage = UnsafeMutablePointer<Element>.allocate(capacity: count)
        storage.initialize(repeating: value, count: count)
        owner = EngineMemoryOwner { storage.deallocate() }
        baseAddress = UnsafePointer(storage)
    }

    /// Where an engine under construction writes the values of an array made by
    /// `init(count:repeating:)`; nil when empty.
    var mutableAddress: UnsafeMutablePointer<Element>? { baseAddress.map { UnsafeMutablePointer(mutating: $0) } }

    /// `count` values at `address`, kept alive by `owner`.
    init(address: UnsafeRawPointer, count: Int, owner: EngineMemoryOwner) {
        self.count = count
        self.owner = count > 0 ? owner : nil
        baseAddress = count > 0 ? address.assumingMemoryBound(to: Element.self) : nil
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: baseAddress, count: count))
    }
}

/// Keeps an engine's memory alive: frees the allocation or unmaps the file when the last
/// array that uses it goes.
final class EngineMemoryOwner: @unchecked Sendable {
    let release: () -> Void
    init(release: @escaping () -> Void) { self.release = release }
    deinit { release() }
}
