import Foundation
import MirrorConfig

/// A fresh directory under the system temp dir, removed when the test is done.
/// Private to this target: FerryTestSupport has no temp-dir helper yet.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/ferry-mirrorconfig-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `contents` to `name` inside the directory and returns its path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let file = path + "/" + name
        try Data(contents.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }
}

/// Outcome of loading a fixture folder, with the temp-dir prefix removed from error paths.
enum Loaded {
    case list(MirrorList)
    case errors([String])

    var errors: [String] {
        if case .errors(let lines) = self { return lines }
        return []
    }

    var list: MirrorList? {
        if case .list(let list) = self { return list }
        return nil
    }
}

/// Writes `files` into a temporary folder and loads it with `environment`.
func loadFixture(_ files: [(String, String)], environment: [String: String] = [:]) throws -> Loaded {
    let directory = try TemporaryDirectory()
    for (name, contents) in files { try directory.write(name, contents) }
    do {
        return .list(try MirrorList.load(from: directory.path, environment: environment))
    } catch {
        let prefix = directory.path + "/"
        return .errors(error.errors.map { $0.description.replacingOccurrences(of: prefix, with: "") })
    }
}

/// Loads one file named `a.yaml`.
func loadFixture(_ yaml: String, environment: [String: String] = [:]) throws -> Loaded {
    try loadFixture([("a.yaml", yaml)], environment: environment)
}
