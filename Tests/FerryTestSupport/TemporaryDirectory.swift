import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory under `$TMPDIR` (or `/tmp`), removed on ``remove()`` or when the last reference goes away.
///
/// Set `FERRY_KEEP_TEMP=1` to keep every directory for a post-mortem; the path is printed instead.
public final class TemporaryDirectory: Sendable {
    /// The absolute path of the directory.
    public let path: String
    private let removed = Mutex(false)

    /// Creates `$TMPDIR/<prefix>.XXXXXX` with mode 0700.
    public init(prefix: String = "ferry-test") throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let template = (base.hasSuffix("/") ? base : base + "/") + prefix + ".XXXXXX"
        var bytes = Array(template.utf8CString)
        let created = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else {
            throw TestSupportError.fileIO(path: template, message: String(cString: strerror(errno)))
        }
        path = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The path of `component` (which may contain slashes) inside the directory.
    public func appending(_ component: String) -> String { path + "/" + component }

    /// Creates the subdirectory `component` (and its parents) and returns its path.
    @discardableResult
    public func makeSubdirectory(_ component: String) throws -> String {
        let sub = appending(component)
        try TestFiles.makeDirectory(sub)
        return sub
    }

    /// Deletes the directory and everything in it; later calls do nothing.
    public func remove() {
        let alreadyRemoved = removed.withLock { flag in
            defer { flag = true }
            return flag
        }
        guard !alreadyRemoved else { return }
        if ProcessInfo.processInfo.environment["FERRY_KEEP_TEMP"] == "1" {
            FileHandle.standardError.write(Data("FERRY_KEEP_TEMP: kept \(path)\n".utf8))
            return
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { remove() }
}

/// Small file helpers whose errors name the path.
public enum TestFiles {
    /// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TestSupportError.fileIO(path: path, message: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Writes `text` as UTF-8 to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Reads the whole file at `path`.
    public static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TestSupportError.fileIO(path: path, message: "cannot read")
        }
        return Array(data)
    }

    /// Reads the whole file at `path` as UTF-8 text.
    public static func readText(_ path: String) throws -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Creates `path` and any missing parents.
    public static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw TestSupportError.fileIO(path: path, message: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// True when something exists at `path`.
    public static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The names in the directory `path`; throws when it cannot be listed, so that a missing directory never reads
    /// as an empty one.
    public static func list(_ path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw TestSupportError.fileIO(path: path, message: "cannot list: \(error.localizedDescription)")
        }
    }

    /// Every regular file under `root` (symbolic links followed), as paths relative to `root`, sorted; throws when
    /// `root` is not a directory.
    public static func files(under root: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue,
            let walker = FileManager.default.enumerator(atPath: root)
        else { throw TestSupportError.fileIO(path: root, message: "not a directory") }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            var entryIsDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &entryIsDirectory),
                !entryIsDirectory.boolValue
            {
                files.append(relative)
            }
        }
        return files.sorted()
    }

    /// The files under `root` (see ``files(under:)``) whose bytes contain any of `needles`, as `path: needle #N`
    /// (the needle's position in `needles`, never the needle itself: it is usually a secret).
    public static func occurrences(of needles: [String], inFilesUnder root: String) throws -> [String] {
        let patterns = needles.map { Data($0.utf8) }
        var found: [String] = []
        for relative in try files(under: root) {
            let bytes = Data(try read(root + "/" + relative))
            for (index, pattern) in patterns.enumerated() where bytes.range(of: pattern) != nil {
                found.append("\(relative): needle #\(index)")
            }
        }
        return found
    }

    /// The size of the file at `path`.
    public static func size(_ path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw TestSupportError.fileIO(path: path, message: String(cString: strerror(errno)))
        }
        return Int64(info.st_size)
    }

    /// Hard-links `source` to `destination`, copying when they are on different file systems.
    public static func linkOrCopy(_ source: String, to destination: String) throws {
        if link(source, destination) == 0 { return }
        do {
            try FileManager.default.copyItem(atPath: source, toPath: destination)
        } catch {
            throw TestSupportError.fileIO(
                path: destination, message: "cannot copy from \(source): \(error.localizedDescription)")
        }
    }

    /// Makes `path` absolute against the current directory.
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }
}
