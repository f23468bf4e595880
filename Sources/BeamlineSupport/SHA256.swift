import CSHA256
import Foundation

/// SHA-256 (FIPS 180-4), used to record the checksum of every input in output
/// headers and to compare decoded pixel arrays with reference digests. The block function is
/// the C target's (the x86 SHA extensions where the CPU has them): a run hashes every raw image.
public struct SHA256: Sendable {
    private var context = csha256_context()

    public init() { csha256_init(&context) }

    /// The portable block function whatever the CPU has (tests compare it with the other).
    public init(portable: Bool) {
        if portable { csha256_init_portable(&context) } else { csha256_init(&context) }
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let hashed = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) } != nil
        if !hashed { Array(bytes).withUnsafeBytes { update($0) } }
    }

    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        csha256_update(&context, base, raw.count)
    }

    public func finalize() -> [UInt8] {
        var copy = context
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { csha256_final(&copy, $0.baseAddress!) }
        return digest
    }

    public func hexDigest() -> String {
        finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    public static func hex<Bytes: Sequence>(of bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.hexDigest()
    }
}

extension SHA256 {
    /// The digest of a file, read in pieces of 1 MiB (raw images are tens of MB).
    public static func fileDigest(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BeamlineError(path: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n >= 0 else { throw BeamlineError(path: path, "cannot read: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            buffer.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0 ..< n])) }
        }
        return hash.hexDigest()
    }
}
