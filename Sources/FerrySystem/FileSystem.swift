import Foundation
import OCIModel

#if canImport(Glibc)
    import Glibc
#endif

/// An `errno` value, carried as a typed cause so that decisions (disk full, connection refused) never depend on
/// the wording of a message.
public struct SystemErrno: Sendable, Hashable, CustomStringConvertible {
    /// The `errno` value.
    public var code: Int32

    /// Wraps `code`.
    public init(_ code: Int32) { self.code = code }

    /// True when the disk is full or the quota exhausted.
    public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    /// True when nobody listens at the address (`ECONNREFUSED`).
    public var isConnectionRefused: Bool { code == ECONNREFUSED }

    /// The system's text, e.g. `No space left on device`.
    public var description: String { String(cString: strerror(code)) }

    /// The text as Go's syscall package spells it (lower-case first letter), as Docker's messages show it.
    public var goText: String {
        let text = description
        guard let first = text.first else { return "errno \(code)" }
        return first.lowercased() + text.dropFirst()
    }
}

/// An error that knows whether a full disk caused it, and where: one question every layer answers the same way,
/// so a full disk is reported as such whichever write hit it (a blob, `index.json`, `ferry.db`, a report).
public protocol DiskFullReporting: Error {
    /// The path that could not be written because the disk (or quota) is full; nil for any other failure.
    var diskFullPath: String? { get }
}

/// A failed file-system operation, naming the path and the system's reason.
public struct FileSystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path the operation was about.
    public var path: String
    /// What was being done, e.g. `rename`, `write`.
    public var operation: String
    /// The `errno` value, 0 when not from a system call.
    public var code: Int32
    /// The system's message.
    public var message: String

    /// Creates an error from explicit parts.
    public init(path: String, operation: String, code: Int32 = 0, message: String) {
        self.path = path
        self.operation = operation
        self.code = code
        self.message = message
    }

    /// Creates an error from the current `errno`.
    public static func errno(_ operation: String, _ path: String, _ code: Int32 = Glibc.errno) -> FileSystemError {
        FileSystemError(path: path, operation: operation, code: code, message: String(cString: strerror(code)))
    }

    /// `path: operation: message`.
    public var description: String { "\(path): \(operation): \(message)" }

    /// The typed cause; code 0 when the error did not come from a system call.
    public var cause: SystemErrno { SystemErrno(code) }

    /// True when the disk is full or the quota exhausted.
    public var isNoSpace: Bool { cause.isNoSpace }
}

extension FileSystemError: DiskFullReporting {
    /// The path, when the disk is full.
    public var diskFullPath: String? { isNoSpace ? path : nil }
}

/// What ``FileSystem/stamp(_:)`` reads of a file: enough to notice that it was replaced or rewritten.
public struct FileStamp: Sendable, Hashable, CustomStringConvertible {
    /// The device holding the file.
    public var device: UInt64
    /// The inode; an atomic replace gives a new one.
    public var inode: UInt64
    /// The size in bytes.
    public var size: Int64
    /// Modification time, seconds part.
    public var modifiedSeconds: Int64
    /// Modification time, nanoseconds part.
    public var modifiedNanoseconds: Int64

    /// `device:inode:size:seconds.nanoseconds`, to be kept and compared as text.
    public var description: String { "\(device):\(inode):\(size):\(modifiedSeconds).\(modifiedNanoseconds)" }
}

/// Small POSIX file helpers with explicit durability: ferry's store must survive a crash or SIGKILL at any point.
public enum FileSystem {
    /// True when something exists at `path` (without following a final symlink).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// True when `path` is a directory.
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The size of the regular file at `path`, or nil when it does not exist.
    public static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// The identity and version of the regular file at `path` (device, inode, size, modification time), or nil
    /// when there is none: two equal stamps mean the file was not replaced or rewritten in between.
    public static func stamp(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileStamp(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedSeconds: Int64(info.st_mtim.tv_sec), modifiedNanoseconds: Int64(info.st_mtim.tv_nsec))
    }

    /// The directory that contains `path`: `.` for a bare name, `/` for a top-level entry; trailing slashes ignored.
    // Our own because Foundation's NSString.deletingLastPathComponent traps on a one-character bare name ("s").
    public static func parentDirectory(of path: String) -> String {
        var bytes = Array(path.utf8)
        while bytes.count > 1, bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        var end = slash
        while end > 0, bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
        return end == 0 ? "/" : String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// The last component of `path`, trailing slashes ignored (`/` for the root).
    public static func lastComponent(of path: String) -> String {
        var bytes = Array(path.utf8)
        while bytes.count > 1, bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard bytes.count > 1, let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        return String(decoding: bytes[(slash + 1)...], as: UTF8.self)
    }

    /// Creates `path` and its missing parents (mode 0755).
    public static func createDirectory(_ path: String) throws(FileSystemError) {
        if isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if parent != path, !isDirectory(parent) { try createDirectory(parent) }
        if mkdir(path, 0o755) != 0, Glibc.errno != EEXIST { throw .errno("mkdir", path) }
    }

    /// `$TMPDIR`, or `/tmp` when it is unset or empty.
    public static var temporaryBase: String {
        ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    /// Creates a fresh, private directory `PREFIX.XXXXXX` under `$TMPDIR` (or `/tmp`) and returns its path.
    public static func makeTemporaryDirectory(prefix: String) throws(FileSystemError) -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let pattern = (base.hasSuffix("/") ? base : base + "/") + prefix + ".XXXXXX"
        var template = pattern.utf8.map { CChar(bitPattern: $0) } + [0]
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let result = mkdtemp(buffer.baseAddress!) else { return nil }
            return String(cString: result)
        }
        guard let made else { throw .errno("mkdtemp", base) }
        return made
    }

    /// Removes a file; a missing file is not an error.
    public static func removeFile(_ path: String) throws(FileSystemError) {
        if unlink(path) != 0, Glibc.errno != ENOENT { throw .errno("remove", path) }
    }

    /// Removes a directory tree; a missing tree is not an error.
    public static func removeTree(_ path: String) throws(FileSystemError) {
        guard exists(path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw FileSystemError(path: path, operation: "remove", message: "\(error)")
        }
    }

    /// Renames atomically within one file system.
    public static func rename(_ from: String, to: String) throws(FileSystemError) {
        // Every rename makes something visible: the moments a crash test wants to land on.
        FailPoint.hit(FailPoint.beforeRename)
        if Glibc.rename(from, to) != 0 { throw .errno("rename to \(to)", from) }
        FailPoint.hit(FailPoint.afterRename)
    }

    /// Flushes a file or directory to stable storage.
    public static func sync(_ path: String) throws(FileSystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .errno("open", path) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw .errno("fsync", path) }
    }

    /// Flushes everything written to the file system that holds `path` (`syncfs(2)`): one flush for many files
    /// where an `fsync` each would flush the device cache once per file.
    public static func syncFileSystem(containing path: String) throws(FileSystemError) {
        // Glibc declares syncfs only under _GNU_SOURCE, which Swift's Glibc module does not define; without it
        // (never on Linux since 2.6.39), sync(2) flushes every file system, which is more, not less.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs") else {
            Glibc.sync()
            return
        }
        let syncfs = unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .errno("open", path) }
        defer { close(fd) }
        if syncfs(fd) != 0 { throw .errno("syncfs", path) }
    }

    /// Flushes the directory that contains `path`, making a rename or create inside it durable.
    public static func syncParent(of path: String) throws(FileSystemError) {
        try sync(parentDirectory(of: path))
    }

    /// Names of the entries of `directory` (not recursive, unsorted, without `.` and `..`).
    public static func list(_ directory: String) throws(FileSystemError) -> [String] {
        guard let dir = opendir(directory) else { throw .errno("list", directory) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Reads a whole file, refusing files larger than `limit` bytes (manifests, configs, small documents).
    ///
    /// The buffer is sized from the file's length once (reading on if the file grew meanwhile), so reading an
    /// `index.json` of several megabytes costs that much memory, not twice as much while an array doubles.
    public static func readFile(_ path: String, limit: Int = 64 << 20) throws(FileSystemError) -> [UInt8] {
        let file = try ReadableFile(path: path)
        defer { file.close() }
        let expected = Int(try file.size())
        if expected > limit {
            throw FileSystemError(path: path, operation: "read", message: "larger than \(limit) bytes")
        }
        var out = [UInt8](repeating: 0, count: expected + 1)
        var filled = 0
        while true {
            if filled == out.count {
                if out.count > limit {
                    throw FileSystemError(path: path, operation: "read", message: "larger than \(limit) bytes")
                }
                out.append(contentsOf: [UInt8](repeating: 0, count: max(out.count, 64 * 1024)))
            }
            var failure: FileSystemError?
            let count = out.withUnsafeMutableBytes { raw -> Int in
                do throws(FileSystemError) {
                    return try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
                } catch {
                    failure = error
                    return 0
                }
            }
            if let failure { throw failure }
            if count == 0 { break }
            filled += count
            if filled > limit {
                throw FileSystemError(path: path, operation: "read", message: "larger than \(limit) bytes")
            }
        }
        out.removeLast(out.count - filled)
        return out
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory is written, flushed and
    /// renamed over `path`, then the directory is flushed. Readers see the old or the new content, never a mix.
    /// With `syncingDirectory: false` the rename is left for the caller to flush (a batch flushes its directories
    /// once). `temporaryDirectory` (on the same file system) holds the temporary file instead, so a process killed
    /// before the rename leaves nothing beside `path`.
    public static func writeAtomically(
        _ bytes: [UInt8], to path: String, mode: mode_t = 0o644, syncingDirectory: Bool = true,
        temporaryDirectory: String? = nil
    ) throws(FileSystemError) {
        let temporary = temporaryPath(for: path, in: temporaryDirectory)
        let file = try WritableFile(path: temporary, mode: mode, truncate: true)
        do {
            try file.write(bytes)
            try file.sync()
            file.close()
            try rename(temporary, to: path)
            if syncingDirectory { try syncParent(of: path) }
        } catch {
            file.close()
            try? removeFile(temporary)
            throw error
        }
    }

    /// The name a temporary file for `path` takes: beside it, or in `directory`, marked with ``temporaryMarker``.
    public static func temporaryPath(for path: String, in directory: String? = nil) -> String {
        let name = "\(temporaryMarker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard let directory else { return path + name }
        return directory + "/" + lastComponent(of: path) + name
    }

    /// What every temporary file ferry writes has in its name: a file with it was never renamed into place, and
    /// one left behind is the trace of a killed process (see ``isTemporaryLeftover(_:)``).
    public static let temporaryMarker = ".tmp-"

    /// True when `name` is a temporary file of ``writeAtomically(_:to:mode:syncingDirectory:temporaryDirectory:)``
    /// or ``AtomicFile``: `NAME.tmp-PID-RANDOM`.
    public static func isTemporaryLeftover(_ name: String) -> Bool {
        guard let range = name.range(of: temporaryMarker, options: .backwards) else { return false }
        let parts = name[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        return range.lowerBound != name.startIndex && parts.count == 2
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }

    /// Copies the file at `source` to `path` atomically (as ``writeAtomically(_:to:mode:)`` writes), streaming it
    /// through one buffer so memory does not grow with the file.
    public static func copyAtomically(from source: String, to path: String, mode: mode_t = 0o644) throws(FileSystemError) {
        let input = try ReadableFile(path: source)
        defer { input.close() }
        let temporary = temporaryPath(for: path)
        let output = try WritableFile(path: temporary, mode: mode, truncate: true)
        do throws(FileSystemError) {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = try input.read(into: &buffer)
                if count == 0 { break }
                try output.write(count == buffer.count ? buffer : Array(buffer[0..<count]))
            }
            try output.sync()
            output.close()
            try rename(temporary, to: path)
            try syncParent(of: path)
        } catch {
            output.close()
            try? removeFile(temporary)
            throw error
        }
    }

    /// Hashes the file at `path` with a streaming read, so memory does not grow with file size.
    public static func digest(
        ofFile path: String, algorithm: Digest.Algorithm = .sha256
    ) throws(FileSystemError) -> (digest: Digest, size: Int64) {
        let file = try ReadableFile(path: path)
        defer { file.close() }
        var hasher = DigestHasher(algorithm)
        // A buffer no bigger than the file (plus one byte to see the end): most blobs are small, and zeroing a
        // megabyte for each of tens of thousands of them is most of the work of hashing them.
        var buffer = [UInt8](repeating: 0, count: Int(min(try file.size() + 1, 1 << 20)))
        while true {
            let count = try file.read(into: &buffer)
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return (hasher.finalize(), hasher.count)
    }
}

/// A file opened for reading with a plain descriptor.
public final class ReadableFile {
    private var fd: Int32
    /// The path, for messages.
    public let path: String

    /// Opens `path` read-only.
    public init(path: String) throws(FileSystemError) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        self.path = path
        guard fd >= 0 else { throw .errno("open", path) }
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public func read(into buffer: inout [UInt8]) throws(FileSystemError) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count >= 0 { return count }
            if Glibc.errno == EINTR { continue }
            throw .errno("read", path)
        }
    }

    /// Reads up to `buffer.count` bytes into `buffer`; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if Glibc.errno == EINTR { continue }
            throw .errno("read", path)
        }
    }

    /// The size of the open file.
    public func size() throws(FileSystemError) -> Int64 {
        var info = stat()
        if fstat(fd, &info) != 0 { throw .errno("stat", path) }
        return Int64(info.st_size)
    }

    /// Moves the read position to `offset`.
    public func seek(to offset: Int64) throws(FileSystemError) {
        if lseek(fd, off_t(offset), SEEK_SET) < 0 { throw .errno("seek", path) }
    }

    /// Closes the descriptor; safe to call twice.
    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    deinit { close() }
}

@available(*, unavailable) extension ReadableFile: Sendable {}

/// A file opened for writing with a plain descriptor.
public final class WritableFile {
    private var fd: Int32
    /// The path, for messages.
    public let path: String

    /// Opens (creating) `path` for writing; `truncate` empties it, otherwise writes go to the end.
    public init(path: String, mode: mode_t = 0o644, truncate: Bool) throws(FileSystemError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND)
        fd = open(path, flags, mode)
        self.path = path
        guard fd >= 0 else { throw .errno("open", path) }
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws(FileSystemError) {
        let failure = bytes.withUnsafeBytes { buffer -> FileSystemError? in
            do throws(FileSystemError) {
                try write(buffer)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Writes all of `buffer`.
    public func write(_ buffer: UnsafeRawBufferPointer) throws(FileSystemError) {
        var offset = 0
        while offset < buffer.count {
            let count = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                throw .errno("write", path)
            }
            offset += count
        }
    }

    /// Truncates the file to `length` bytes.
    public func truncate(to length: Int64) throws(FileSystemError) {
        if ftruncate(fd, off_t(length)) != 0 { throw .errno("truncate", path) }
    }

    /// Flushes to stable storage.
    public func sync() throws(FileSystemError) {
        if fsync(fd) != 0 { throw .errno("fsync", path) }
    }

    /// Asks the kernel to start writing `length` bytes at `offset` to disk now, without waiting, so that a later
    /// ``sync()`` of a large file only waits for its tail; clean pages of the range may leave the page cache.
    /// Advice only: a failure is ignored.
    // POSIX_FADV_DONTNEED starts asynchronous writeback of dirty pages on Linux (sync_file_range is not importable).
    public func startWriteback(offset: Int64, length: Int64) {
        _ = posix_fadvise(fd, off_t(offset), off_t(length), POSIX_FADV_DONTNEED)
    }

    /// Closes the descriptor; safe to call twice.
    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    deinit { close() }
}

@available(*, unavailable) extension WritableFile: Sendable {}
