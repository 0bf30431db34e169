internal import CCurl
import FerryHTTP
import FerrySystem
import Foundation

/// A libcurl failure at the C boundary: curl's numeric code and the best text it gave.
///
/// The code is an `Int`, not `CURLcode`, so the type could cross the module boundary without exposing C types.
struct CurlError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `CURLcode` or `CURLMcode` value.
    let code: Int
    /// `CURLOPT_ERRORBUFFER` text when there was some, else `curl_easy_strerror`.
    let message: String

    init(_ code: CURLcode, message: String? = nil) {
        self.code = Int(code.rawValue)
        self.message = message ?? String(cString: curl_easy_strerror(code))
    }

    init(multi code: CURLMcode) {
        self.code = Int(code.rawValue)
        self.message = String(cString: curl_multi_strerror(code))
    }

    var description: String { "curl error \(code): \(message)" }

    /// `CURLE_RANGE_ERROR`, reported when a 206 answers a different range than the one asked for.
    static let rangeNotDelivered = Int(CURLE_RANGE_ERROR.rawValue)
}

extension CURLcode {
    /// Turns a setopt/getinfo result into a thrown error.
    // https://curl.se/libcurl/c/curl_easy_setopt.html
    func check() throws(CurlError) {
        guard self == CURLE_OK else { throw CurlError(self) }
    }
}

extension CURLMcode {
    /// Turns a multi-interface result into a thrown error.
    // https://curl.se/libcurl/c/libcurl-errors.html
    func check() throws(CurlError) {
        guard self == CURLM_OK else { throw CurlError(multi: self) }
    }
}

/// Maps a finished transfer's `CURLcode` to the transport's public error.
///
/// `endpoint` is `host:port` and `hostName` the bare host; both come from the request URL, which never
/// carries credentials into a message (see ``RequestTarget``).
func transportError(
    for code: CURLcode, message: String, target: RequestTarget, cause: SystemErrno? = nil
) -> TransportError {
    switch code {
    case CURLE_COULDNT_RESOLVE_HOST:
        return .resolve(host: target.hostName, message: message)
    case CURLE_COULDNT_RESOLVE_PROXY:
        // The proxy comes from the environment; curl's text names it, and it is a name lookup all the same.
        return .resolve(host: "proxy", message: message)
    case CURLE_COULDNT_CONNECT:
        return .connect(host: target.endpoint, message: message, cause: cause)
    case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
        CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
        CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
        CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
        return .tls(host: target.endpoint, message: message)
    case CURLE_OPERATION_TIMEDOUT:
        return .timeout(message: message)
    case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING,
        // An HTTP/2 stream reset by the peer is the HTTP/2 form of a connection cut mid-body.
        CURLE_HTTP2_STREAM:
        return .interrupted(message: message)
    default:
        return .other(code: Int(code.rawValue), message: message)
    }
}

/// An `errno` as Go's syscall package spells it: strerror's text with a lower-case first letter
/// (`connection refused`, `network is unreachable`, `no route to host`).
func goErrnoText(_ code: Int32) -> String { SystemErrno(code).goText }
