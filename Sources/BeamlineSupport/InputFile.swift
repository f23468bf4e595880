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
    /// read(2) into one buffer of the size fstat gives (Foundation's reader lost a 4 KiB buffer per
    /// call under LeakSanitizer in the fuzzer); nothing is zeroed or copied on the way, which for
    /// a detector plate of tens of MB was most of the reading.
    public static func bytes(of path: String) throws -> [UInt8] {
        if let problem = problem(path) { throw BeamlineError(path: path, problem) }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw BeamlineError(path: path, "cannot be opened (\(String(cString: strerror(errno))))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw BeamlineError(path: path, "cannot be read (\(String(cString: strerror(errno))))")
        }
        /// Reads into `buffer` up to its end or the file's; the count read, or errno negated.
        func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
            var filled = 0
            while filled < buffer.count {
                let count = read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
                if count < 0 {
                    if errno == EINTR { continue }
                    return -Int(errno)
                }
                if count == 0 { break }
                filled += count
            }
            return filled
        }
        // One byte more than fstat says: a file that grew since is read on to its end below.
        let expected = max(Int(info.st_size), 0)
        var failure: Int32 = 0
        var bytes = [UInt8](unsafeUninitializedCapacity: expected + 1) { buffer, initialized in
            let count = fill(buffer)
            if count < 0 { failure = Int32(-count) }
            initialized = max(count, 0)
        }
        if bytes.count == expected + 1 {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while failure == 0 {
                let count = chunk.withUnsafeMutableBufferPointer { fill($0) }
                if count < 0 { failure = Int32(-count) }
                if count <= 0 { break }
                bytes.append(contentsOf: chunk[..<count])
            }
        }
        if failure != 0 { throw BeamlineError(path: path, "cannot be read (\(String(cString: strerror(failure))))") }
        return bytes
    }

    /// `bytes(of:)` as Data.
    public static func contents(of path: String) throws -> Data {
        Data(try bytes(of: path))
    }

    /// The text (UTF-8) of `path`.
    public static func text(of path: String) throws -> String {
        String(decoding: try contents(of: path), as: UTF8.self)
    }
}
