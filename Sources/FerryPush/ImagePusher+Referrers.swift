import FerryHTTP
import Foundation
import LayoutStore
import Ledger
import OCIModel
import OCIRegistry

extension ImagePusher {
    /// Pushes the referrers of an image already pushed to `target`, in discovery order (a referrer after its
    /// subject), byte for byte: a cosign tag as that tag, any other by digest.
    ///
    /// A registry that stores a manifest with `subject` and answers without `OCI-Subject` (no referrers API:
    /// distribution 2.8) does not list it anywhere, so ferry keeps the referrers fallback tag `sha256-<hex>` of each
    /// subject itself: read, merge, write (one write per subject, after its referrers). A failed fallback tag
    /// fails the push of the referrers it should list.
    public func pushReferrers(
        _ referrers: [Referrer], repository: String, to target: PushTarget, runID: RunID
    ) async -> [PushResult] {
        var results: [PushResult] = []
        var unindexed: [(subject: Digest, position: Int, referrer: Referrer)] = []
        for referrer in referrers {
            if Task.isCancelled { break }
            let text = referrer.tag.map { "\(repository):\($0)" } ?? "\(repository)@\(referrer.digest)"
            guard let reference = try? ImageReference(parsing: text) else { continue }
            let descriptor = Descriptor(mediaType: referrer.mediaType, digest: referrer.digest, size: referrer.size)
            let result = await attempt(reference, descriptor: descriptor, to: target, runID: runID)
            if case .registry = target.destination, referrer.source != .cosignTag, result.record.outcome != .failed,
                result.subjectIndexed != true
            {
                unindexed.append((referrer.subject, results.count, referrer))
            }
            results.append(result)
        }
        for (subject, group) in Dictionary(grouping: unindexed, by: \.subject).sorted(by: { $0.key.hex < $1.key.hex }) {
            do throws(PushError) {
                let entries = try group.map { item throws(PushError) in try fallbackEntry(item.referrer) }
                try await maintainFallbackTag(subject, entries: entries, repository: repository, target: target)
            } catch {
                for item in group {
                    results[item.position].record.outcome = .failed
                    results[item.position].record.error =
                        "cannot update the referrers fallback tag \(ReferrerTags.fallbackTag(for: subject)): \(error)"
                }
            }
        }
        return results
    }

    /// The referrer's entry in a fallback index: descriptor, artifact type and the manifest's annotations.
    func fallbackEntry(_ referrer: Referrer) throws(PushError) -> Descriptor {
        var entry = referrer.descriptor
        if let bytes = try? store.readBlob(referrer.digest),
            let manifest = try? JSONDecoder().decode(ImageManifest.self, from: Data(bytes))
        {
            entry.annotations = manifest.annotations
        } else if !store.hasBlob(referrer.digest) {
            throw .missingContent(referrer.digest, reference: "\(referrer.subject)")
        }
        return entry
    }

    /// Reads the fallback tag of `subject` at the target, adds `entries` it lacks, and writes it back.
    // https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-manifests-with-subject
    func maintainFallbackTag(
        _ subject: Digest, entries: [Descriptor], repository: String, target: PushTarget
    ) async throws(PushError) {
        let tag = ReferrerTags.fallbackTag(for: subject)
        let source: ImageReference
        do { source = try ImageReference(parsing: "\(repository):\(tag)") } catch {
            throw .invalidDestination(source: repository, destination: tag, reason: error.description)
        }
        let destination = try target.destinationReference(for: source)
        var lastError: RegistryError?
        for endpoint in resolver.endpoints(for: destination.domain) where !endpoint.isMirror {
            do throws(PushError) {
                try await merge(entries, tag: tag, repository: destination.path, client: session.client(for: endpoint))
                return
            } catch {
                // As for images: only a transport failure before any answer lets the next endpoint be tried.
                if case .registry(let registryError) = error,
                    case .request(_, _, .transport(let transport)) = registryError, transport.isBeforeHTTP,
                    !session.hasResponded(endpoint)
                {
                    lastError = registryError
                    continue
                }
                throw error
            }
        }
        if let lastError { throw .registry(lastError) }
    }

    private func merge(
        _ entries: [Descriptor], tag: String, repository: String, client: RegistryClient
    ) async throws(PushError) {
        var index = ImageIndex(mediaType: .ociIndex, manifests: [])
        do throws(RegistryError) {
            let current = try await client.fetchManifest(repository, tag: tag)
            if case .index(let existing) = try current.decode() { index = existing }
        } catch {
            guard Self.isAbsent(error) else { throw .registry(error) }
        }
        let missing = entries.filter { entry in !index.manifests.contains { $0.digest == entry.digest } }
        guard !missing.isEmpty else { return }
        index.manifests += missing
        index.mediaType = .ociIndex
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do { bytes = Array(try encoder.encode(index)) } catch {
            throw .store(.invalidIndex(path: tag, message: "cannot encode the fallback index: \(error)"))
        }
        do throws(RegistryError) {
            _ = try await client.putManifest(repository, reference: tag, bytes: bytes, mediaType: .ociIndex)
        } catch {
            throw .registry(error)
        }
    }

    /// A 404: no such tag yet.
    static func isAbsent(_ error: RegistryError) -> Bool {
        switch error {
        case .registry(_, let status): status == 404
        case .unexpectedResponse(let status, _, _): status == 404
        default: false
        }
    }
}
