import FerrySystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where an export writes its files before they take their names: a directory `FILE.tmp-PID-RANDOM` beside
/// `FILE` (the store's temporary-file pattern, see ``FileSystem/isTemporaryLeftover(_:)``), on the file system the
/// bundle ends up on, so that putting a file in place is one rename.
///
/// The parts and the sidecar are written and flushed there under their final names. Then a journal, `moves`,
/// records each file's stamp (device, inode, size, modification time: a rename keeps them), and only then are the
/// files renamed beside `FILE`, the parts first and the sidecar last (a bundle without its sidecar is not
/// importable). The directory, journal included, goes only after the export is recorded in the reference store.
/// So a killed export leaves the directory, and the next export to the same `FILE` (see
/// ``removeLeftovers(of:)``) removes it together with every file its journal names that still has the stamp the
/// journal recorded: those files are the killed export's and it never reported them. A file with another stamp
/// (replaced or rewritten since) is never touched; the export then refuses it like any existing file.
struct ExportStaging {
    /// The journal's name in the directory.
    static let journalName = "moves"

    /// `--to FILE`.
    let file: String
    /// The directory.
    let directory: String

    /// Creates the directory beside `file`.
    init(file: String) throws(BundleError) {
        self.file = file
        directory = FileSystem.temporaryPath(for: file)
        guard mkdir(directory, 0o755) == 0 else { throw .io(.errno("mkdir", directory)) }
    }

    /// Where the file that ends up at `path` is written first.
    func stagedPath(for path: String) -> String { directory + "/" + BundleFiles.name(path) }

    /// Records the stamps of `paths` (final paths, parts first, sidecar last; their staged files complete and
    /// flushed) and makes the journal durable, before any file is moved.
    func writeJournal(_ paths: [String]) throws(BundleError) {
        var lines = ""
        for path in paths {
            guard let stamp = FileSystem.stamp(stagedPath(for: path)) else {
                throw .io(FileSystemError(path: stagedPath(for: path), operation: "export", message: "missing"))
            }
            lines += BundleFiles.name(path) + "\t" + stamp.description + "\n"
        }
        do {
            try FileSystem.writeAtomically(Array(lines.utf8), to: directory + "/" + Self.journalName)
            try FileSystem.syncParent(of: directory)
        } catch {
            throw .io(error)
        }
    }

    /// Renames the staged file of `path` to `path`; an existing `path` is refused, never replaced.
    func move(into path: String) throws(BundleError) {
        do {
            try Self.renameWithoutReplacing(stagedPath(for: path), to: path)
        } catch {
            if error.code == EEXIST { throw .outputExists(path: path) }
            throw .io(error)
        }
    }

    /// Renames like ``FileSystem/rename(_:to:)`` (the same fail points) but never replaces an existing `to`:
    /// `renameat2(RENAME_NOREPLACE)`, or where the file system lacks it, an existence check right before a plain
    /// rename.
    static func renameWithoutReplacing(_ from: String, to: String) throws(FileSystemError) {
        FailPoint.hit(FailPoint.beforeRename)
        // Glibc declares renameat2 only under _GNU_SOURCE, which Swift's Glibc module does not define.
        var code = ENOSYS
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") {
            let renameat2 = unsafeBitCast(
                symbol,
                to: (@convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32).self)
            code = renameat2(AT_FDCWD, from, AT_FDCWD, to, 1) == 0 ? 0 : errno  // 1: RENAME_NOREPLACE
        }
        if code == ENOSYS || code == EINVAL {
            if FileSystem.exists(to) { throw .errno("rename to \(to)", from, EEXIST) }
            code = Glibc.rename(from, to) == 0 ? 0 : errno
        }
        if code != 0 { throw .errno("rename to \(to)", from, code) }
        FailPoint.hit(FailPoint.afterRename)
    }

    /// Removes the journal durably, then the directory: from here on the moved files are the user's.
    func remove() throws(BundleError) {
        do {
            try FileSystem.removeFile(directory + "/" + Self.journalName)
            try FileSystem.sync(directory)
            try FileSystem.removeTree(directory)
            try FileSystem.syncParent(of: directory)
        } catch {
            throw .io(error)
        }
    }

    /// Removes the directory and whatever is left in it, keeping the files already moved (after a failure: the
    /// caller removes those it moved).
    func discard() {
        try? FileSystem.removeTree(directory)
    }

    /// Removes what killed exports to `file` left: every directory `NAME.tmp-PID-RANDOM` beside it (`NAME` being
    /// `file`'s name) whose process is gone, and each file its journal names that still has the recorded stamp.
    /// - Returns: the paths of the moved files removed.
    @discardableResult
    static func removeLeftovers(of file: String) throws(BundleError) -> [String] {
        let parent = BundleFiles.directory(file)
        let name = BundleFiles.name(file)
        guard let names = try? FileSystem.list(parent) else { return [] }
        var removed: [String] = []
        for entry in names.sorted() where isStagingDirectory(entry, of: name) {
            let directory = parent + "/" + entry
            guard FileSystem.isDirectory(directory), !processIsAlive(entry) else { continue }
            let journal = directory + "/" + journalName
            if let bytes = try? FileSystem.readFile(journal, limit: 4 << 20) {
                for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                    let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                    guard fields.count == 2 else { continue }
                    let moved = String(fields[0])
                    // Only a file of this bundle, in this directory.
                    guard moved == BundleFiles.name(moved), BundleFiles.base(of: moved) == name else { continue }
                    let path = parent + "/" + moved
                    guard let stamp = FileSystem.stamp(path), stamp.description == fields[1] else { continue }
                    do { try FileSystem.removeFile(path) } catch { throw .io(error) }
                    removed.append(path)
                }
            }
            do {
                try FileSystem.removeTree(directory)
                try FileSystem.sync(parent)
            } catch {
                throw .io(error)
            }
        }
        return removed
    }

    /// True for `NAME.tmp-PID-RANDOM`.
    static func isStagingDirectory(_ entry: String, of name: String) -> Bool {
        FileSystem.isTemporaryLeftover(entry) && entry.hasPrefix(name + FileSystem.temporaryMarker)
            && entry.dropFirst(name.count + FileSystem.temporaryMarker.count).split(separator: "-").count == 2
    }

    /// True when the PID in `NAME.tmp-PID-RANDOM` is a running process (another export writing now).
    private static func processIsAlive(_ entry: String) -> Bool {
        guard let range = entry.range(of: FileSystem.temporaryMarker, options: .backwards),
            let pid = entry[range.upperBound...].split(separator: "-").first.flatMap({ Int32($0) })
        else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
