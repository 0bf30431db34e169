import OCIModel
import Testing

@Suite struct DigestTests {
    @Test(arguments: [
        ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", nil),
        ("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", DigestError.invalidFormat),
        ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", DigestError.invalidLength),
        ("sha256:", DigestError.invalidFormat),
        (":abc", DigestError.invalidFormat),
        ("sha256", DigestError.invalidFormat),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", DigestError.unsupportedAlgorithm),
        ("MD5:d41d8cd98f00b204e9800998ecf8427e", DigestError.invalidFormat),
        ("foo+bar:abc=", DigestError.unsupportedAlgorithm),
        ("foo++bar:abc", DigestError.invalidFormat),
        ("sha256:!!!", DigestError.invalidLength),
        (
            "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
            nil
        ),
    ] as [(String, DigestError?)])
    func parsesLikeGoDigest(input: String, expected: DigestError?) throws {
        if let expected {
            #expect(throws: expected) { try Digest(parsing: input) }
        } else {
            #expect(try Digest(parsing: input).description == input)
        }
    }

    // go-digest's TestParseDigest table, with the results of v1.0.0 (the version distribution/reference pins):
    // a wrong length is its own error there, and only sha256, sha384 and sha512 are registered, so `blake3`
    // is merely unsupported.
    @Test(arguments: [
        ("sha256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", nil),
        (
            "sha384:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af801d",
            nil
        ),
        ("blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", DigestError.unsupportedAlgorithm),
        ("", .invalidFormat),
        ("     ", .invalidFormat),
        ("sha256:", .invalidFormat),
        ("sha256:" + String(repeating: " ", count: 64), .invalidFormat),
        (":", .invalidFormat),
        ("d41d8cd98f00b204e9800998ecf8427e", .invalidFormat),
        ("sha256:d41d8cd98f00b204e9800m98ecf8427e", .invalidLength),
        ("sha256:abcdef0123456789", .invalidLength),
        ("sha512:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", .invalidLength),
        ("foo:d41d8cd98f00b204e9800998ecf8427e", .unsupportedAlgorithm),
        (
            "sha384__foo+bar:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af801d",
            .invalidFormat
        ),
        (
            "sha384.foo+bar:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af801d",
            .unsupportedAlgorithm
        ),
        (
            "sha384_foo+bar:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af801d",
            .unsupportedAlgorithm
        ),
        ("sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", .unsupportedAlgorithm),
        ("sha256:E58FCF7418D4390DEC8E8FB69D88C06EC07039D651FEDD3AA72AF9972E7D046B", .invalidFormat),
    ] as [(String, DigestError?)])
    func parsesGoDigestsTable(input: String, expected: DigestError?) throws {
        if let expected {
            #expect(throws: expected) { try Digest(parsing: input) }
        } else {
            let digest = try Digest(parsing: input)
            #expect(digest.description == input)
            #expect(try Digest(parsing: digest.description) == digest)
        }
    }

    @Test(arguments: [
        (DigestError.invalidFormat, "invalid checksum digest format"),
        (.invalidLength, "invalid checksum digest length"),
        (.unsupportedAlgorithm, "unsupported digest algorithm"),
    ])
    func errorTextsAreGoDigests(error: DigestError, text: String) {
        #expect(error.description == text)
    }

    @Test func hashesEmptyInput() {
        #expect(Digest.sha256(of: []).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func hasherStateIsAValueSoResumeContinuesFromASnapshot() {
        var first = DigestHasher()
        first.update(Array("hello ".utf8))
        var resumed = first
        resumed.update(Array("world".utf8))
        first.update(Array("there".utf8))
        #expect(resumed.finalize() == Digest.sha256(of: Array("hello world".utf8)))
        #expect(first.finalize() == Digest.sha256(of: Array("hello there".utf8)))
        #expect(resumed.count == 11)
    }
}
