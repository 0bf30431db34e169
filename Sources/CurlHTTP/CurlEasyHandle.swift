internal import CCurl
import Synchronization

/// Owns one `CURL *` together with the C memory curl reads from it during a transfer.
///
/// Used only on the ``CurlMultiLoop`` thread: libcurl handles are not thread-safe, and the header list and
/// error buffer must outlive every `curl_multi_perform` that touches the handle.
// https://curl.se/libcurl/c/curl_easy_init.html
final class CurlEasyHandle {
    let raw: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    // curl keeps a pointer to the list, not a copy; freed in deinit after the handle.
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let counter: HandleCounter

    init(counter: HandleCounter) throws(CurlError) {
        guard let raw = curl_easy_init() else { throw CurlError(CURLE_FAILED_INIT) }
        self.raw = raw
        self.counter = counter
        let size = Int(ccurl_error_size)
        errorBuffer = .allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
        counter.opened()
        do {
            try ccurl_easy_setopt_pointer(raw, CURLOPT_ERRORBUFFER, errorBuffer).check()
        } catch {
            curl_easy_cleanup(raw)
            errorBuffer.deallocate()
            counter.closed()
            throw error
        }
    }

    deinit {
        close()
    }

    private var isClosed = false

    /// Frees the handle now rather than at deinit, so it is gone before the caller is resumed. Idempotent;
    /// the handle must already be out of the multi handle and must not be used afterwards.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        curl_easy_cleanup(raw)
        curl_slist_free_all(headerList)
        headerList = nil
        errorBuffer.deallocate()
        counter.closed()
    }

    /// Sets an option whose man page documents a `long` argument.
    func setLong(_ option: CURLoption, _ value: Int) throws(CurlError) {
        try ccurl_easy_setopt_long(raw, option, value).check()
    }

    /// Sets an option whose man page documents a `curl_off_t` argument.
    func setOffset(_ option: CURLoption, _ value: Int64) throws(CurlError) {
        try ccurl_easy_setopt_off_t(raw, option, curl_off_t(value)).check()
    }

    /// Sets a string option; curl copies the string, so nothing escapes the call. `nil` resets the option.
    func setString(_ option: CURLoption, _ value: String?) throws(CurlError) {
        if let value {
            try ccurl_easy_setopt_string(raw, option, value).check()
        } else {
            try ccurl_easy_setopt_string(raw, option, nil).check()
        }
    }

    /// Sets a `void *` option (callback userdata).
    func setPointer(_ option: CURLoption, _ value: UnsafeMutableRawPointer?) throws(CurlError) {
        try ccurl_easy_setopt_pointer(raw, option, value).check()
    }

    /// Replaces the request header list (`Name: value` lines); the list lives as long as the handle.
    func setHeaders(_ lines: [String]) throws(CurlError) {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                throw CurlError(CURLE_OUT_OF_MEMORY)
            }
            list = appended
        }
        do {
            try ccurl_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, list).check()
        } catch {
            curl_slist_free_all(list)
            throw error
        }
        curl_slist_free_all(headerList)
        headerList = list
    }

    /// Installs a write-shaped callback (`CURLOPT_WRITEFUNCTION` or `CURLOPT_HEADERFUNCTION`).
    func setWriteFunction(_ option: CURLoption, _ callback: ccurl_write_callback) throws(CurlError) {
        try ccurl_easy_setopt_write_function(raw, option, callback).check()
    }

    /// Installs `CURLOPT_READFUNCTION`.
    func setReadFunction(_ callback: ccurl_read_callback) throws(CurlError) {
        try ccurl_easy_setopt_read_function(raw, CURLOPT_READFUNCTION, callback).check()
    }

    /// Installs `CURLOPT_SEEKFUNCTION`.
    func setSeekFunction(_ callback: ccurl_seek_callback) throws(CurlError) {
        try ccurl_easy_setopt_seek_function(raw, CURLOPT_SEEKFUNCTION, callback).check()
    }

    /// The error buffer's text for the last transfer, nil when curl wrote none.
    var errorText: String? {
        errorBuffer[0] == 0 ? nil : String(cString: errorBuffer)
    }

    /// `CURLINFO_OS_ERRNO`: the `errno` of the last failed connect, 0 when there is none.
    var osErrno: Int32 {
        var value = 0
        guard ccurl_easy_getinfo_long(raw, CURLINFO_OS_ERRNO, &value) == CURLE_OK else { return 0 }
        return Int32(truncatingIfNeeded: value)
    }
}

@available(*, unavailable)
extension CurlEasyHandle: Sendable {}

/// Counts easy handles that exist, so tests can prove none leaks after cancellation.
final class HandleCounter: Sendable {
    private let value = Atomic<Int>(0)

    func opened() { value.add(1, ordering: .relaxed) }
    func closed() { value.subtract(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}
