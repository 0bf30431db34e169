import FerrySystem
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
