import FerrySystem
import Foundation
import FerryTestSupport
import Testing

/// Path arithmetic on user-typed paths: bare names (the case Foundation's NSString helpers trap on), trailing and
/// repeated slashes, the root.
@Suite struct PathTests {
    static let cases: [(path: String, parent: String, last: String)] = [
        ("s", ".", "s"),
        ("store", ".", "store"),
        ("s/", ".", "s"),
        ("a/b", "a", "b"),
        ("a//b", "a", "b"),
        ("a/b/", "a", "b"),
        ("./s", ".", "s"),
        ("../s", "..", "s"),
        ("/s", "/", "s"),
        ("/var/lib/ferry", "/var/lib", "ferry"),
        ("//s", "/", "s"),
        ("/", "/", "/"),
        ("//", "/", "/"),
        ("", ".", ""),
        ("bundle.tar.part0001", ".", "bundle.tar.part0001"),
        ("ü/ñ", "ü", "ñ"),
    ]

    @Test(arguments: cases) func parentAndLastComponent(path: String, parent: String, last: String) {
        #expect(FileSystem.parentDirectory(of: path) == parent, "parent of \"\(path)\"")
        #expect(FileSystem.lastComponent(of: path) == last, "last component of \"\(path)\"")
    }

    static let leftovers: [(name: String, isLeftover: Bool)] = [
        ("index.json.tmp-12-345", true),
        ("0123abcd.tmp-1-0", true),
        ("a.tmp-b.tmp-7-8", true),
        (".tmp-12-345", false),
        ("index.json.tmp-12", false),
        ("index.json.tmp-12-", false),
        ("index.json.tmp--5", false),
        ("index.json.tmp-12-34-56", false),
        ("index.json.tmp-1x-2", false),
        ("index.json.tmp-١-٢", false),
        ("sha256-ab.partial", false),
        ("index.json", false),
    ]

    @Test(arguments: leftovers) func temporaryLeftoverNames(name: String, isLeftover: Bool) {
        #expect(FileSystem.isTemporaryLeftover(name) == isLeftover, "\(name)")
    }

    @Test func aTemporaryPathInADirectoryKeepsTheNameAndIsALeftover() {
        let path = FileSystem.temporaryPath(for: "/s/blobs/sha256/abc", in: "/s/tmp")
        #expect(path.hasPrefix("/s/tmp/abc.tmp-\(getpid())-"))
        #expect(FileSystem.isTemporaryLeftover(FileSystem.lastComponent(of: path)))
        #expect(FileSystem.temporaryPath(for: "/s/index.json").hasPrefix("/s/index.json.tmp-"))
    }

    @Test func createDirectoryMakesMissingParents() throws {
        let directory = try TemporaryDirectory(prefix: "ferry-paths")
        let nested = directory.appending("a/b//c/")
        try FileSystem.createDirectory(nested)
        #expect(FileSystem.isDirectory(directory.appending("a/b/c")))
        try FileSystem.createDirectory(nested)
    }

    @Test func createDirectoryUnderAFileNamesThePath() throws {
        let directory = try TemporaryDirectory(prefix: "ferry-paths")
        try TestFiles.write("x", to: directory.appending("file"))
        let target = directory.appending("file/sub")
        #expect {
            try FileSystem.createDirectory(target)
        } throws: { error in
            "\(error)" == "\(target): mkdir: Not a directory"
        }
    }
}
