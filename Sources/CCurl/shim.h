// Typed entry points over libcurl's variadic setters, which Swift cannot call.
//
// Each wrapper pins the argument type that the option's man page documents, so a Swift caller cannot
// pass a `long` where curl reads a `curl_off_t` (a silent stack mismatch in C).
#ifndef FERRY_CCURL_SHIM_H
#define FERRY_CCURL_SHIM_H

#include <sys/types.h>
#include <curl/curl.h>

// sync_file_range is a GNU extension. Defining _GNU_SOURCE here would change how glibc's headers define shared types
// (fd_set's member is `fds_bits` under it, `__fds_bits` without), and clang then refuses this module next to Swift's
// Glibc module. So the prototype and flag are declared here, as glibc's <bits/fcntl-linux.h> documents them.
extern int sync_file_range(int fd, __off64_t offset, __off64_t count, unsigned int flags);
#define CCURL_SYNC_FILE_RANGE_WRITE 2

/// Starts writing `length` bytes at `offset` of `fd` to disk without waiting (`SYNC_FILE_RANGE_WRITE`), so the
/// fsync before a downloaded blob becomes visible only waits for the last part. Returns 0 or -1 (errno set).
static inline int ccurl_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, (__off64_t)offset, (__off64_t)length, CCURL_SYNC_FILE_RANGE_WRITE);
}

/// `CURLOPT_WRITEFUNCTION` and `CURLOPT_HEADERFUNCTION`.
typedef size_t (*ccurl_write_callback)(char *data, size_t size, size_t count, void *userdata);
/// `CURLOPT_READFUNCTION`.
typedef size_t (*ccurl_read_callback)(char *buffer, size_t size, size_t count, void *userdata);
/// `CURLOPT_XFERINFOFUNCTION`.
typedef int (*ccurl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                       curl_off_t ulnow);
/// `CURLOPT_SEEKFUNCTION`: curl rewinds an upload when it resends the request on a fresh connection.
typedef int (*ccurl_seek_callback)(void *userdata, curl_off_t offset, int origin);

// The macros below are `unsigned` or wider literals that Swift would import with guessed types.
static const size_t ccurl_writefunc_pause = CURL_WRITEFUNC_PAUSE;
static const size_t ccurl_writefunc_error = CURL_WRITEFUNC_ERROR;
static const size_t ccurl_readfunc_abort = CURL_READFUNC_ABORT;
static const size_t ccurl_readfunc_pause = CURL_READFUNC_PAUSE;
static const int ccurl_error_size = CURL_ERROR_SIZE;
static const int ccurl_seekfunc_ok = CURL_SEEKFUNC_OK;
static const int ccurl_seekfunc_cantseek = CURL_SEEKFUNC_CANTSEEK;
static const long ccurl_global_default = CURL_GLOBAL_DEFAULT;

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/// curl copies string arguments (all options but `CURLOPT_POSTFIELDS`), so the pointer only has to live
/// for the duration of the call.
static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_write_function(CURL *handle, CURLoption option,
                                                        ccurl_write_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode ccurl_easy_setopt_read_function(CURL *handle, CURLoption option,
                                                       ccurl_read_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode ccurl_easy_setopt_seek_function(CURL *handle, CURLoption option,
                                                       ccurl_seek_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode ccurl_easy_setopt_xferinfo_function(CURL *handle, CURLoption option,
                                                           ccurl_xferinfo_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

#endif
