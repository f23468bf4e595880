#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes files so that a reader (or `make`) never sees a half-written one.
///
/// The content goes to a temporary file in the same directory, is flushed, and
/// is renamed over the destination; a failure removes the temporary file.
public enum AtomicFile {
    /// The temporary name used while `path` is being written.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        return dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { temporary in
            guard FileManager.default.createFile(atPath: temporary, contents: data) else {
                throw BeamlineError(path: path, "cannot write (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// Writes `text` (UTF-8) to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Lets `body` produce the file at a temporary path, then renames it to `path`.
    ///
    /// Use this with writers that need a path of their own (libtiff, libhdf5).
    public static func write(to path: String, _ body: (String) throws -> Void) throws {
        let temporary = temporaryPath(for: path)
        do {
            try body(temporary)
            guard rename(temporary, path) == 0 else {
                throw BeamlineError(path: path, "cannot rename the finished file into place (\(String(cString: strerror(errno))))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
