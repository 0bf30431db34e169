import CurlHTTP
import FerryHTTP
import FerryTestSupport
import Foundation
import Logging
import OCIModel
import OCIRegistry
import Testing

/// The registry client over the real curl transport against a server that never stops sending.
@Suite(.tags(.loopback)) struct HostileServerTests {
    static func client(for server: TestHTTPServer) throws -> RegistryClient {
        let session = RegistrySession(
            transport: try makeTransport(), retry: RetryPolicy(retries: 2, baseDelay: .zero, maxDelay: .zero, jitter: false),
            logger: quietLogger)
        return session.client(for: RegistryEndpoint(baseURL: server.url("/")))
    }

    @Test func aBlobWithoutLengthThatNeverEndsFailsAtItsDescriptorsSize() async throws {
        let scratch = try ScratchDirectory()
        let body = EndlessBody()
        let server = try TestHTTPServer { _ in body.response() }
        let client = try Self.client(for: server)
        let descriptor = Descriptor(mediaType: .ociLayer, digest: sha256(Array("layer".utf8)), size: 2_000_000)

        await #expect(throws: RegistryError.sizeExceeded(.layer, descriptor.digest, size: 2_000_000)) {
            try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: scratch.file("staging"))
        }
        server.stop()
        #expect(server.requests.count == 1)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("staging")))
        #expect(body.bytes < 2_000_000 + 64 << 20)
    }

    @Test func aManifestThatNeverEndsFailsAtTheManifestLimit() async throws {
        let body = EndlessBody()
        let server = try TestHTTPServer { _ in body.response(headers: ["Content-Type": MediaType.ociManifest.rawValue]) }
        let client = try Self.client(for: server)
        let digest = sha256(Array("manifest".utf8))

        await #expect(throws: RegistryError.manifestTooLarge(
            url: server.url("/v2/app/manifests/\(digest)").absoluteString, limit: RegistryClient.maxManifestBytes)
        ) {
            try await client.fetchManifest("app", digest: digest)
        }
        server.stop()
        #expect(server.requests.count == 1)
        #expect(body.bytes < Int64(RegistryClient.maxManifestBytes) + 64 << 20)
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://127.0.0.1/blob", "gopher://127.0.0.1/"])
    func aRedirectToAnotherSchemeIsRefusedOverCurlToo(location: String) async throws {
        let scratch = try ScratchDirectory()
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 307, headers: ["Location": location]) }
        defer { server.stop() }
        let client = try Self.client(for: server)
        let descriptor = Descriptor(mediaType: .ociLayer, digest: sha256(Array("layer".utf8)), size: 5)
        let url = server.url("/v2/app/blobs/\(descriptor.digest)").absoluteString

        await #expect(throws: RegistryError.request(method: .get, url: url, cause: .badRedirect(location))) {
            try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: scratch.file("staging"))
        }
        #expect(server.requests.count == 1)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("staging")))
    }
}
