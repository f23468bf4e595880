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

    /// The bytes of `path`, or an error naming the file and the reason. Read with open(2) and
    /// read(2) into one buffer (Foundation's reader lost a 4 KiB buffer per call under
    /// LeakSanitizer in the fuzzer).
    public static func contents(of path: String) throws -> Data {
        if let problem = problem(path) { throw BeamlineError(path: path, problem) }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw BeamlineError(path: path, "cannot be opened (\(String(cString: strerror(errno))))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw BeamlineError(path: path, "cannot be read (\(String(cString: strerror(errno))))")
        }
        var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0))
        var filled = 0
        while true {
            if filled == bytes.count { bytes.append(contentsOf: [UInt8](repeating: 0, count: max(65536, bytes.count))) }
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw BeamlineError(path: path, "cannot be read (\(String(cString: strerror(errno))))")
            }
            if count == 0 { break }
            filled += count
        }
        bytes.removeSubrange(filled...)
        return Data(bytes)
    }

    /// The text (UTF-8) of `path`.
    public static func text(of path: String) throws -> String {
        String(decoding: try contents(of: path), as: UTF8.self)
    }
}
