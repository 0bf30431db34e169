import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Turns SIGINT and SIGTERM into a callback instead of killing the process, so a batch run can stop cleanly,
/// record itself as interrupted and write its report. Restores the default actions when released.
public final class SignalTrap {
    private let sources: [any DispatchSourceSignal]
    private let signals: [Int32]

    /// Traps `signals` and calls `handler` with the signal number each time one arrives.
    public init(_ signals: [Int32] = [SIGINT, SIGTERM], handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            // The default action must be off before the source can see the signal.
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// Stops trapping and restores the default actions.
    public func release() {
        for source in sources { source.cancel() }
        for number in signals { Glibc.signal(number, SIG_DFL) }
    }
}
