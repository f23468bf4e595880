import Foundation

/// Work started on a background thread now, its outcome handed over once, when asked for: a read
/// or a decode that overlaps the engine build or the integration of the frame before.
public final class BackgroundWork<Value>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<Value, any Error>?

    public init(_ work: @escaping () throws -> Value) {
        DispatchQueue.global().async { [self] in
            outcome = Result { try work() }
            done.signal()
        }
    }

    /// Waits for the work; its value (or its error), handed over: this keeps no reference to it.
    /// Nil when it was taken before.
    public func take() throws -> Value? {
        done.wait()
        guard let taken = outcome else { return nil }
        outcome = nil
        return try taken.get()
    }
}
