#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes files so that a reader (or `make`) never sees a half-written one.
///
/// The content goes to a temporary file in the same directory, is written out to the disk
/// (`fsync`) and renamed over the destination, and the directory is synced so the rename
/// survives a crash; any failure (a full disk, a read-only or forbidden directory, a failed
/// close) removes the temporary file and throws an error naming the file and the cause.
public enum AtomicFile {
    /// The temporary name used while `path` is being written.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        return dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    }

    #if canImport(Glibc)
    static let systemWrite = Glibc.write
    #else
    static let systemWrite = Darwin.write
    #endif

    /// The system's reason for `code`, in the words users search for.
    static func reason(_ code: Int32) -> String {
        switch code {
        case ENOSPC: "no space left on the device"
        case EDQUOT: "disk quota exceeded"
        case EACCES, EPERM: "permission denied"
        case EROFS: "read-only file system"
        case ENOENT: "the directory does not exist"
        default: String(cString: strerror(code))
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { temporary in
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw BeamlineError(path: path, "cannot create the file: \(reason(errno))") }
            var failure: Int32 = 0
            data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = errno
                        return
                    }
                    offset += n
                }
            }
            if failure == 0, fsync(fd) != 0 { failure = errno }
            if close(fd) != 0, failure == 0 { failure = errno }
            if failure != 0 { throw BeamlineError(path: path, "cannot write: \(reason(failure))") }
        }
    }

    /// Writes `text` (UTF-8) to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Lets `body` produce the file at a temporary path, then syncs it, renames it to `path`
    /// and syncs the directory.
    ///
    /// Use this with writers that need a path of their own (libtiff, libhdf5).
    public static func write(to path: String, _ body: (String) throws -> Void) throws {
        let temporary = temporaryPath(for: path)
        do {
            try body(temporary)
            try sync(temporary, reportingAs: path)
            guard rename(temporary, path) == 0 else {
                throw BeamlineError(path: path, "cannot rename the finished file into place: \(reason(errno))")
            }
            syncDirectory(of: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Flushes a finished file to the disk; a file another library wrote and closed may still
    /// fail here (a full disk shows at the flush).
    static func sync(_ file: String, reportingAs path: String) throws {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BeamlineError(path: path, "cannot reopen the written file: \(reason(errno))") }
        let status = fsync(fd)
        let code = errno
        close(fd)
        if status != 0, code != EINVAL { throw BeamlineError(path: path, "cannot write: \(reason(code))") }
    }

    /// Makes a rename durable; file systems that cannot sync a directory are left alone.
    static func syncDirectory(of path: String) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
