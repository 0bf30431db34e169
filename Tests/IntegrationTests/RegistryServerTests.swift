import FerryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct RegistryServerTests {
    @Test func startsOnLoopbackAndStopsByPID() async throws {
        let registry = try await RegistryServer.start()
        #expect(registry.host == "127.0.0.1:\(registry.port)")
        #expect(kill(registry.pid, 0) == 0)
        let response = try await HTTPProbe().send("GET", registry.baseURL + "/v2/")
        #expect(response.status == 200)
        _ = try await registry.waitForRequest { $0.method == "GET" && $0.path == "/v2/" }
        #expect(registry.requestCount(method: "GET", path: "/v2/") == 1)
        registry.stop()
        #expect(!registry.isRunning)
        #expect(kill(registry.pid, 0) == -1 && errno == ESRCH)
    }
}
