#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reads input files whole, with one message per way it can fail: "no such file", "is a
/// directory", "is not a regular file", "permission denied", or the system's words.
public enum InputFile {
    /// Why `path` cannot be read as a regular file, or nil when it can.
    public static func problem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return errno == ENOENT || errno == ENOTDIR ? "no such file" : String(cString: strerror(errno))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return "is a directory, not a file"
        default: return "is not a regular file"
        }
        if access(path, R_OK) != 0 { return errno == EACCES ? "permission denied" : String(cString: strerror(errno)) }
        return nil
    }

    /// The bytes of `path`, or an error naming the file and the reason.
    public static func contents(of path: String) throws -> Data {
        if let problem = problem(path) { throw BeamlineError(path: path, problem) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BeamlineError(path: path, "cannot be read (\(String(cString: strerror(errno))))")
        }
        return data
    }

    /// The text (UTF-8) of `path`.
    public static func text(of path: String) throws -> String {
        String(decoding: try contents(of: path), as: UTF8.self)
    }
}
