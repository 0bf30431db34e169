import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

@testable import FerryBundle

/// Reads every entry (header and content) of `bytes` with FerryBundle's reader, through a one-part stream.
func readEntries(_ bytes: [UInt8], in directory: TemporaryDirectory) throws -> [(TarEntryHeader, [UInt8])] {
    try readEntries(bytes, at: directory.appending("stream-\(UUID().uuidString)"))
}

/// ``readEntries(_:in:)`` through the file `path`, which is overwritten.
func readEntries(_ bytes: [UInt8], at path: String) throws -> [(TarEntryHeader, [UInt8])] {
    try TestFiles.write(bytes, to: path)
    let reader = PartStreamReader(parts: [(path, partEntry(bytes, name: "stream"))])
    var tar = TarReader(source: reader)
    var entries: [(TarEntryHeader, [UInt8])] = []
    while let entry = try tar.nextEntry() {
        var content: [UInt8] = []
        try tar.readContent { chunk throws(BundleError) in content += chunk }
        entries.append((entry, content))
    }
    return entries
}

@Suite struct TarFormatTests {
    @Test func headersRoundTripAndMatchTheTestSupportWriter() throws {
        let header = TarEntryHeader(
            path: "blobs/sha256/abc", type: .regular, size: 1234, mode: 0o644, modificationTime: 1_704_067_200)
        let ours = Tar.headerBytes(for: header)
        let theirs = try TarFormat.header(
            path: "blobs/sha256/abc", type: .regular, size: 1234, mode: 0o644, modificationTime: 1_704_067_200)
        #expect(ours.count == 512)
        // Same fields; the test writer also names the owner "root", ferry leaves owner names empty.
        #expect(Array(ours[0..<148]) == Array(theirs[0..<148]))
        #expect(ours[156] == theirs[156])
        #expect(Array(ours[257..<265]) == Array(theirs[257..<265]))
        guard case .header(let flag, let name, let size, let mode, let time, _) = try Tar.parseBlock(ours, offset: 0)
        else {
            Issue.record("not parsed as a header")
            return
        }
        #expect(flag == 0x30 && name == header.path && size == 1234 && mode == 0o644 && time == 1_704_067_200)
    }

    @Test func longPathsAndHugeSizesGoIntoPaxRecords() throws {
        let directory = try TemporaryDirectory()
        let longPath = "blobs/sha512/" + String(repeating: "ab", count: 64)
        #expect(longPath.utf8.count > 100)
        var stream = Tar.headerBytes(
            for: TarEntryHeader(path: longPath, type: .regular, size: 3, mode: 0o644, modificationTime: 0))
        stream += [1, 2, 3] + [UInt8](repeating: 0, count: 509) + [UInt8](repeating: 0, count: 1024)
        let entries = try readEntries(stream, in: directory)
        #expect(entries.map(\.0.path) == [longPath])
        #expect(entries.first?.1 == [1, 2, 3])

        // An 11-digit octal field stops at 8 GiB - 1; a 10 GiB blob's size travels in a pax record.
        let huge = TarEntryHeader(
            path: "blobs/sha256/x", type: .regular, size: 10 << 30, mode: 0o644, modificationTime: 0)
        let bytes = Tar.headerBytes(for: huge)
        #expect(bytes.count == 3 * 512)
        #expect(bytes[156] == 0x78)
        let records = try Tar.parsePax(Array(bytes[512..<(512 + 20)]), offset: 0)
        #expect(records == ["size": String(10 << 30)])
        let path = directory.appending("huge-header")
        try TestFiles.write(bytes, to: path)
        // Only the header is read here: the reader reports the pax size without needing the 10 GiB.
        var tar = TarReader(source: PartStreamReader(parts: [(path, partEntry(bytes, name: "huge-header"))]))
        let entry = try #require(try tar.nextEntry())
        #expect(entry.size == 10 << 30)
        #expect(entry.path == "blobs/sha256/x")
    }

    @Test(arguments: [1, 5, 6, 7, 8, 90, 95, 96, 97, 98, 99, 100, 990, 995, 996])
    func paxRecordLengthsCountThemselves(valueLength: Int) throws {
        let record = Tar.paxRecord("path", String(repeating: "x", count: valueLength))
        let text = String(decoding: record, as: UTF8.self)
        let length = try #require(Int(text.prefix { $0 != " " }))
        #expect(length == record.count)
        #expect(try Tar.parsePax(record, offset: 0)["path"]?.count == valueLength)
    }

    @Test func everyEntryTypeIsReportedAsWhatItIs() throws {
        let directory = try TemporaryDirectory()
        let stream = try Forge.tar([
            .file("a", [7]), ForgedEntry(path: "d/", type: 0x35), ForgedEntry(path: "s", type: 0x32, link: "/etc"),
            ForgedEntry(path: "h", type: 0x31, link: "a"), ForgedEntry(path: "c", type: 0x33),
            ForgedEntry(path: "b", type: 0x34), ForgedEntry(path: "f", type: 0x36), ForgedEntry(path: "g", type: 0x67),
        ])
        let types = try readEntries(stream, in: directory).map(\.0.type)
        #expect(
            types == [
                .regular, .directory, .symbolicLink(target: "/etc"), .hardLink(target: "a"), .characterDevice,
                .blockDevice, .fifo, .other(0x67),
            ])
        #expect(TarEntryType.other(0x67).description == "type 'g'")
    }

    @Test func damagedStreamsAreRefusedWithTheirOffset() throws {
        let directory = try TemporaryDirectory()
        let good = try Forge.tar([.file("a", Array(repeating: 1, count: 600)), .file("b", [2])])

        var badSum = good
        badSum[1] ^= 0x01
        #expect(
            throws: BundleError.invalidTarHeader(
                offset: 0,
                reason:
                    "header checksum is \(Self.checksum(good)), the header sums to "
                        + "\(Self.checksum(good) + (Int64(good[1] ^ 0x01) - Int64(good[1])))"
            )
        ) {
            try readEntries(badSum, in: directory)
        }

        var notUstar = good
        notUstar[257] = 0x41
        #expect(throws: BundleError.invalidTarHeader(offset: 0, reason: "not a POSIX ustar header")) {
            try readEntries(notUstar, in: directory)
        }

        #expect(throws: BundleError.truncatedArchive(entry: "a")) {
            try readEntries(Array(good.prefix(512 + 100)), in: directory)
        }
        #expect(throws: BundleError.truncatedArchive(entry: nil)) {
            try readEntries(Array(good.prefix(2560)), in: directory)
        }
        #expect(throws: BundleError.trailingData(offset: Int64(good.count + 3))) {
            try readEntries(good + [0, 0, 0, 9], in: directory)
        }
        // Zero padding after the end marker (what tar writes to fill a record) is fine.
        #expect(try readEntries(good + [UInt8](repeating: 0, count: 8192), in: directory).count == 2)
    }

    static func checksum(_ archive: [UInt8]) -> Int64 {
        let field = archive[148..<154]
        return Int64(String(decoding: field, as: UTF8.self), radix: 8) ?? -1
    }
}
