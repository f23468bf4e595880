/// A failure a user must hear about: which file (if any) and what is wrong with it.
///
/// Every stage reports bad input through this one type so that the command-line
/// front end can print a single clear line and exit non-zero.
public struct BeamlineError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the problem is about, when there is one.
    public var path: String?
    /// What is wrong, in words a beamline scientist understands.
    public var message: String

    public init(path: String? = nil, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }

    /// The same error, attributed to `path` unless it already names a file.
    public func attributed(to path: String) -> BeamlineError {
        self.path == nil ? BeamlineError(path: path, message) : self
    }
}
