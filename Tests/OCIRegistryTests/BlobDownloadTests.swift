import FerryHTTP
import FerryTestSupport
import Foundation
import OCIModel
import Testing

@testable import OCIRegistry

@Suite struct BlobDownloadTests {
    let layer: [UInt8] = { var generator = SeededBytes(seed: "blob"); return generator.next(100_000) }()
    var descriptor: Descriptor { Descriptor(mediaType: .ociLayer, digest: Digest.sha256(of: layer), size: Int64(layer.count)) }

    func registry() -> InMemoryRegistry {
        let registry = InMemoryRegistry(host: "registry.test")
        registry.addBlob(layer)
        return registry
    }

    @Test func truncatedTransferResumesWithRange() async throws {
        let registry = registry()
        let calls = Counter()
        let transport = ScriptedTransport { request in
            let reply = registry.handle(request)
            if calls.next() == 0, case .response(let response) = reply {
                return .truncated(response, after: 30_000, error: .interrupted(message: "connection reset by peer"))
            }
            return reply
        }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let received = try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/b")
        #expect(received == Int64(layer.count))
        #expect(transport.requests.map { $0.headers["Range"] } == [nil, "bytes=30000-"])
        #expect(FileManager.default.contents(atPath: directory + "/b") == Data(layer))
    }

    @Test func serverIgnoringRangeRestartsFromZero() async throws {
        let registry = registry()
        registry.setRangeSupported(false)
        let calls = Counter()
        let transport = ScriptedTransport { request in
            let reply = registry.handle(request)
            if calls.next() == 0, case .response(let response) = reply {
                return .truncated(response, after: 30_000, error: .interrupted(message: "reset"))
            }
            return reply
        }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/b")
        #expect(FileManager.default.contents(atPath: directory + "/b") == Data(layer))
        #expect(transport.requests.count == 2)
    }

    @Test func tamperedBlobIsRejectedWithoutRetryAndLeavesNothing() async {
        let registry = registry()
        var bad = layer
        bad[0] ^= 0xFF
        registry.tamperBlob(descriptor.digest, with: bad)
        let transport = ScriptedTransport { registry.handle($0) }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.verificationFailed(.layer, descriptor.digest)) {
            try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/b")
        }
        #expect(transport.requests.count == 1)
        #expect(!FileManager.default.fileExists(atPath: directory + "/b"))
    }

    @Test func badBytesKeptFromAnEarlierAttemptCauseOneRestart() async throws {
        let registry = registry()
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A partial file from an earlier run whose bytes are wrong.
        var stale = Array(layer.prefix(40_000))
        stale[10] ^= 0x01
        _ = FileManager.default.createFile(atPath: directory + "/b", contents: Data(stale))
        let transport = ScriptedTransport { registry.handle($0) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/b")
        #expect(transport.requests.map { $0.headers["Range"] } == ["bytes=40000-", nil])
        #expect(FileManager.default.contents(atPath: directory + "/b") == Data(layer))
    }

    @Test func goodPartialFromAnEarlierRunIsResumed() async throws {
        let registry = registry()
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = FileManager.default.createFile(atPath: directory + "/b", contents: Data(layer.prefix(60_000)))
        let transport = ScriptedTransport { registry.handle($0) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let received = try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/b")
        #expect(received == 40_000)
        #expect(transport.requests.map { $0.headers["Range"] } == ["bytes=60000-"])
    }

    @Test func missingBlobIsNotRetried() async {
        let transport = ScriptedTransport { _ in .response(.registryError(404, code: "BLOB_UNKNOWN", message: "blob unknown to registry")) }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        do {
            try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/b")
            Issue.record("expected BLOB_UNKNOWN")
        } catch {
            #expect(error.codes == [.blobUnknown])
            #expect(error.description == "blob unknown")  // default message, no detail: a bare code in Go
        }
        #expect(transport.requests.count == 1)
    }

    @Test func cancellationStopsTheDownload() async throws {
        let transport = ScriptedTransport { _ in .failure(.cancelled) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        await #expect(throws: RegistryError.cancelled) {
            try await client.downloadBlob("app", descriptor: descriptor, kind: .layer, to: directory + "/b")
        }
        #expect(transport.requests.count == 1)
    }
}
