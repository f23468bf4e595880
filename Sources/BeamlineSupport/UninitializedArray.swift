extension Array where Element: BitwiseCopyable {
    /// `count` elements as the allocator left them, for a caller that writes every one before
    /// reading any: a large block then comes as fresh pages, faulted in by the workers that fill
    /// them, instead of being zeroed on one core first and written again.
    @inlinable
    public init(uninitializedForWriting count: Int) {
        self.init(unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}
