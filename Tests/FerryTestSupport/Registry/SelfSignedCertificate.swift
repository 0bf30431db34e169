/// A self-signed EC P-256 certificate and its key, made with `openssl req -x509`; it acts as its own CA.
public struct SelfSignedCertificate: Sendable, Hashable {
    /// The PEM certificate; pass it as a CA file to clients.
    public var certificatePath: String
    /// The PEM private key (PKCS#8, unencrypted).
    public var privateKeyPath: String

    /// Generates a certificate for `commonName` valid for `days`, with `subjectAltName=IP:127.0.0.1,DNS:localhost`
    /// because Go clients ignore the common name. Files are `<name>.crt` and `<name>.key` in `directory`.
    public static func generate(
        in directory: String, name: String, commonName: String, days: Int = 3
    ) async throws -> SelfSignedCertificate {
        let certificate = "\(directory)/\(name).crt"
        let key = "\(directory)/\(name).key"
        _ = try ProcessRunner.requireTool("openssl")
        try await ProcessRunner.runChecked(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", certificate, "-days", String(days), "-subj", "/CN=\(commonName)",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ])
        return SelfSignedCertificate(certificatePath: certificate, privateKeyPath: key)
    }

    /// The certificate's DER bytes (the body of its PEM block).
    public func certificateDER() throws -> [UInt8] {
        let pem = try TestFiles.readText(certificatePath)
        guard let begin = pem.range(of: "-----BEGIN CERTIFICATE-----"),
            let end = pem.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<pem.endIndex),
            let der = Base64.decode(String(pem[begin.upperBound..<end.lowerBound]))
        else {
            throw TestSupportError.fileIO(path: certificatePath, message: "no PEM CERTIFICATE block")
        }
        return der
    }
}
