import BeamlineSupport
import Testing

/// SHA-256 against the examples of FIPS 180-2 (appendix B) and NIST's one-million-"a" message,
/// through both block functions (the x86 SHA extensions, when the CPU has them, and portable C).
struct SHA256Tests {
    static let examples: [(message: [UInt8], digest: String)] = [
        ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ([UInt8](repeating: 0x61, count: 1_000_000),
         "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ]

    @Test(arguments: [false, true])
    func publishedExamples(portable: Bool) {
        for (message, digest) in Self.examples {
            var hasher = SHA256(portable: portable)
            hasher.update(message)
            #expect(hasher.hexDigest() == digest, "\(message.count) bytes, portable: \(portable)")
        }
    }

    /// Messages of every length around the block and padding boundaries, fed in uneven pieces:
    /// both block functions give one digest, whatever the pieces.
    @Test func blockFunctionsAgree() {
        var generator = SplitMix(seed: 1804)
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4099] {
            let message = (0 ..< length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            var whole = SHA256(portable: true)
            whole.update(message)
            var pieces = SHA256(portable: false)
            var offset = 0
            while offset < length {
                let size = min(length - offset, Int(generator.next() % 150))
                pieces.update(message[offset ..< offset + size])
                offset += size
            }
            #expect(whole.hexDigest() == pieces.hexDigest(), "\(length) bytes")
        }
    }
}
