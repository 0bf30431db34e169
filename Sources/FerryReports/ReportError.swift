import FerrySystem

/// Why a report could not be produced or written; every case names the file or document concerned.
public enum ReportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A file-system operation on a report, link or metrics file failed.
    case io(FileSystemError)
    /// A report could not be encoded or decoded as JSON.
    case json(what: String, reason: String)

    /// One line naming the path or document.
    public var description: String {
        switch self {
        case .io(let error): error.description
        case .json(let what, let reason): "\(what): \(reason)"
        }
    }
}

extension ReportError: DiskFullReporting {
    /// The report file a full disk kept from being written.
    public var diskFullPath: String? {
        if case .io(let error) = self { return error.diskFullPath }
        return nil
    }
}
