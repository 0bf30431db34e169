import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file written piece by piece that appears at its path all at once, as ``FileSystem/writeAtomically(_:to:mode:)``
/// writes it: a temporary file in the same directory, flushed, renamed over the path, the directory flushed.
/// Nothing is visible until ``commit()``; ``abandon()`` (or a failure) removes the temporary file.
public final class AtomicFile {
    /// Where the file appears.
    public let path: String
    private let temporary: String
    private let file: WritableFile
    private var buffer: [UInt8] = []
    private static let capacity = 256 * 1024

    /// Starts writing the file that will replace `path`, its temporary file beside it or in `temporaryDirectory`
    /// (on the same file system).
    public init(path: String, mode: mode_t = 0o644, temporaryDirectory: String? = nil) throws(FileSystemError) {
        self.path = path
        temporary = FileSystem.temporaryPath(for: path, in: temporaryDirectory)
        file = try WritableFile(path: temporary, mode: mode, truncate: true)
        buffer.reserveCapacity(Self.capacity)
    }

    /// Appends `bytes`.
    public func write(_ bytes: some Sequence<UInt8>) throws(FileSystemError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.capacity { try drain() }
    }

    /// Appends the UTF-8 of `text`.
    public func write(_ text: String) throws(FileSystemError) { try write(text.utf8) }

    /// Flushes, renames into place and flushes the directory.
    public func commit() throws(FileSystemError) {
        do throws(FileSystemError) {
            try drain()
            try file.sync()
            file.close()
            try FileSystem.rename(temporary, to: path)
            try FileSystem.syncParent(of: path)
        } catch {
            abandon()
            throw error
        }
    }

    /// Removes the temporary file; the path keeps what it had.
    public func abandon() {
        file.close()
        try? FileSystem.removeFile(temporary)
    }

    private func drain() throws(FileSystemError) {
        guard !buffer.isEmpty else { return }
        try file.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

@available(*, unavailable) extension AtomicFile: Sendable {}
