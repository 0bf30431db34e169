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
