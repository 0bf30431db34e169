import FerryHTTP
import FerrySystem
import Foundation
import OCIModel

extension RegistryClient {
    /// Downloads blob `descriptor` of `repository` into `staging`, verifying size and digest.
    ///
    /// The file is streamed (memory does not grow with blob size) and hashed while it arrives. A transfer cut
    /// short resumes with `Range` from the bytes already received (their hash state is kept); a server that
    /// ignores `Range` restarts from zero. A partial file left by an earlier run is re-hashed and resumed. A digest
    /// mismatch on a download that was not resumed is final; on a resumed one the download restarts once from zero.
    /// On success `staging` holds exactly the blob; the caller moves it into the store.
    /// - Returns: the number of bytes received over the network.
    @discardableResult
    public func downloadBlob(
        _ repository: String, descriptor: Descriptor, kind: ContentKind, to staging: String,
        progress: TransferProgress? = nil
    ) async throws(RegistryError) -> Int64 {
        let blobURL = endpoint.url("/v2/\(repository)/blobs/\(descriptor.digest)")
        if let cause = session.unreachableCause(endpoint) {
            throw .request(method: .get, url: redacted(blobURL), cause: cause)
        }
        let call = Call(method: .get, url: blobURL, scopes: [Self.pullScope(repository)])
        var (offset, hasher) = resumePoint(staging: staging, descriptor: descriptor)
        var received: Int64 = 0
        var retry = 0
        var reauthorized = false
        // True while the file holds bytes from an earlier attempt or run: only then is a digest mismatch worth
        // one restart from zero (Docker's "digest mismatch on a download that was not resumed" is final).
        var includesResumedBytes = offset > 0
        var restartedAfterMismatch = false
        progress?.setExpected(descriptor.size)

        while true {
            if Task.isCancelled { throw .cancelled }
            progress?.reset(to: offset)
            let authorization = try await authorize(call)
            var headers = HTTPHeaders()
            if offset > 0 { headers.set("Range", "bytes=\(offset)-") }
            let startOffset = offset

            let attempt = await download(call, headers: headers, authorization: authorization, staging: staging,
                                         offset: offset, hasher: hasher, progress: progress, maxLength: descriptor.size)
            switch attempt {
            case .failure(let failure):
                received += max(failure.fileLength - startOffset, 0)
                switch failure.error {
                case .cancelled:
                    throw .cancelled
                case .fileIO(let path, let message, let cause):
                    throw .localIO(path: path, message: message, cause: cause)
                case .bodyTooLarge:
                    // More bytes than the descriptor gives cannot be the blob; keeping them would only be resumed.
                    try? FileSystem.removeFile(staging)
                    throw .sizeExceeded(kind, descriptor.digest, size: descriptor.size)
                default:
                    break
                }
                includesResumedBytes = failure.fileLength > 0
                offset = failure.fileLength
                hasher = failure.hasher
                guard isRetryable(failure.error), retry < session.retry.retries else {
                    let error = RegistryError.request(method: .get, url: redacted(blobURL), cause: .transport(failure.error))
                    if failure.error.isBeforeHTTP { session.markUnreachable(endpoint, error) }
                    throw error
                }
                retry += 1
                try await pause(session.retry.delay(beforeRetry: retry), call: call,
                                reason: "\(failure.error)", retry: retry)
                continue

            case .notSent(let cause):
                throw .request(method: .get, url: redacted(blobURL), cause: cause)

            case .success(let result):
                let status = result.response.status
                if result.response.isSuccess {
                    let resumed = status == 206 && startOffset > 0
                    if !resumed { includesResumedBytes = false }
                    received += result.fileLength - (resumed ? startOffset : 0)
                    offset = result.fileLength
                    hasher = result.hasher
                    if offset < descriptor.size {
                        // The server ended the body early without a transport error; resume like a reset.
                        guard retry < session.retry.retries else {
                            throw .request(method: .get, url: redacted(blobURL),
                                           cause: .transport(.interrupted(message: "body ended at \(offset) of \(descriptor.size) bytes")))
                        }
                        retry += 1
                        try await pause(session.retry.delay(beforeRetry: retry), call: call,
                                        reason: "short body", retry: retry)
                        continue
                    }
                    let actual = hasher.finalize()
                    if offset == descriptor.size, actual == descriptor.digest { return received }
                    try? FileSystem.removeFile(staging)
                    if includesResumedBytes, !restartedAfterMismatch, retry < session.retry.retries {
                        // The bytes kept from before may have been the bad ones: start over once, from zero.
                        retry += 1
                        restartedAfterMismatch = true
                        includesResumedBytes = false
                        (offset, hasher) = (0, DigestHasher(descriptor.digest.algorithm))
                        continue
                    }
                    throw .verificationFailed(kind, descriptor.digest)
                }
                if status == 416 {
                    try? FileSystem.removeFile(staging)
                    (offset, hasher) = (0, DigestHasher(descriptor.digest.algorithm))
                    guard retry < session.retry.retries else { throw RegistryError.fromResponse(result.response) }
                    retry += 1
                    continue
                }
                if status == 401, !reauthorized {
                    if let key = authorization.tokenKey, authorization.fromCache, let header = authorization.header {
                        await session.tokens.invalidate(key, value: String(header.dropFirst("Bearer ".count)))
                        reauthorized = true
                        continue
                    }
                    if authorization.header == nil {
                        let challenges = AuthChallenge.parse(headers: result.response.headers)
                        if !challenges.isEmpty {
                            await session.challenges.record(challenges, for: endpoint)
                            reauthorized = true
                            continue
                        }
                    }
                }
                if RetryPolicy.isRetryableStatus(status), retry < session.retry.retries {
                    let after = RetryPolicy.retryAfter(result.response.headers)
                    if let after, after > session.retry.maxRetryAfter { throw RegistryError.fromResponse(result.response) }
                    retry += 1
                    let delay = max(session.retry.delay(beforeRetry: retry), after ?? .zero)
                    try await pause(delay, call: call, reason: result.response.statusLine, retry: retry)
                    continue
                }
                throw RegistryError.fromResponse(result.response)
            }
        }
    }

    /// Where to resume: a partial file shorter than the blob is re-hashed and continued; anything else restarts.
    func resumePoint(staging: String, descriptor: Descriptor) -> (Int64, DigestHasher) {
        let fresh = DigestHasher(descriptor.digest.algorithm)
        guard let size = FileSystem.fileSize(staging), size > 0 else { return (0, fresh) }
        guard size < descriptor.size, let file = try? ReadableFile(path: staging) else {
            try? FileSystem.removeFile(staging)
            return (0, fresh)
        }
        defer { file.close() }
        var hasher = fresh
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while total < size, let count = try? file.read(into: &buffer), count > 0 {
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            total += Int64(count)
        }
        guard total == size else { return (0, fresh) }
        logger.debug("Resuming partial download", metadata: ["digest": "\(descriptor.digest)", "bytes": "\(size)"])
        return (size, hasher)
    }

    enum DownloadAttempt {
        case success(DownloadResult)
        case failure(DownloadError)
        case notSent(RequestFailure)
    }

    /// One download attempt, following redirects (the transport leaves the file alone for 3xx answers).
    private func download(
        _ call: Call, headers: HTTPHeaders, authorization: Authorization, staging: String, offset: Int64,
        hasher: DigestHasher, progress: TransferProgress?, maxLength: Int64
    ) async -> DownloadAttempt {
        var url = call.url
        var requestHeaders = headers
        if let header = authorization.header { requestHeaders.set("Authorization", header) }
        var hops = 0
        while true {
            let request = HTTPRequest(method: .get, url: url, headers: requestHeaders, tls: tls(for: url))
            let admission: RateGovernor.Admission
            do {
                admission = try await session.governor.admit(url, kind: .blob)
            } catch {
                return .notSent(error)
            }
            let result: DownloadResult
            do {
                result = try await session.transport.download(
                    DownloadRequest(request: request, destination: staging, offset: offset, hasher: hasher,
                                    progress: progress, maxLength: maxLength))
            } catch {
                session.governor.settle(admission, status: error.response?.status, headers: error.response?.headers)
                if error.response != nil, endpoint.isSameOrigin(url) { session.markResponded(endpoint) }
                return .failure(error)
            }
            session.governor.settle(admission, status: result.response.status, headers: result.response.headers)
            if endpoint.isSameOrigin(url) { session.markResponded(endpoint) }
            logger.debug("HTTP", metadata: ["method": "GET", "url": "\(redacted(url))", "status": "\(result.response.status)"])
            guard let next = redirectTarget(result.response, from: url) else { return .success(result) }
            switch next {
            case .failure(let cause):
                return .notSent(cause)
            case .success(let target):
                hops += 1
                if hops > 10 { return .notSent(.tooManyRedirects) }
                requestHeaders = redirectHeaders(from: headers, authorization: authorization, to: target)
                url = target
            }
        }
    }
}
