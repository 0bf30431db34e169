import FerryTestSupport
import Foundation
import OCIModel
import Testing

/// The demo image set (see `SampleImages.seedDemo`) in one real registry, seeded once and shared by every test
/// that only reads from it. Tests count requests through their own ``RegistryProxy`` in front of it, so sharing
/// does not couple them. Tests that change a registry start their own.
final class DemoRegistry: Sendable {
    let registry: RegistryServer
    let layoutDirectory: TemporaryDirectory
    let seeded: [SeededReference]

    private init(registry: RegistryServer, layoutDirectory: TemporaryDirectory, seeded: [SeededReference]) {
        self.registry = registry
        self.layoutDirectory = layoutDirectory
        self.seeded = seeded
    }

    static func start() async throws -> DemoRegistry {
        let registry = try await RegistryServer.start()
        let directory = try TemporaryDirectory(prefix: "ferry-demo-layout")
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let seeded = try await SampleImages.seedDemo(into: registry.endpoint, layout: layout)
        return DemoRegistry(registry: registry, layoutDirectory: directory, seeded: seeded)
    }

    /// What `repository:tag` points to.
    func artifact(_ repository: String, _ tag: String) throws -> BuiltArtifact {
        try #require(seeded.first { $0.repository == repository && $0.tag == tag }).artifact
    }

    /// The image `repository:tag` points to.
    func image(_ repository: String, _ tag: String) throws -> BuiltImage {
        guard case .image(let image) = try artifact(repository, tag) else {
            throw TestSupportError.invalidArgument("\(repository):\(tag) is an index")
        }
        return image
    }

    /// The index `repository:tag` points to.
    func index(_ repository: String, _ tag: String) throws -> BuiltIndex {
        guard case .index(let index) = try artifact(repository, tag) else {
            throw TestSupportError.invalidArgument("\(repository):\(tag) is an image")
        }
        return index
    }

    // MARK: Sharing

    private static let shared = SharedInstance()

    /// The registry of the suite running now (see ``DemoRegistryTrait``).
    @TaskLocal static var current: DemoRegistry?

    /// The current suite's registry; fails the test when the suite lacks the `.demoRegistry` trait.
    static func get() throws -> DemoRegistry {
        try #require(current, "the suite needs the .demoRegistry trait")
    }

    /// Starts the registry for the first suite that needs it and stops it after the last one.
    actor SharedInstance {
        private var users = 0
        private var starting: Task<DemoRegistry, any Error>?

        func acquire() async throws -> DemoRegistry {
            users += 1
            if starting == nil { starting = Task { try await DemoRegistry.start() } }
            do {
                return try await starting!.value
            } catch {
                users -= 1
                throw error
            }
        }

        func release() async {
            users -= 1
            guard users == 0, let task = starting else { return }
            starting = nil
            if let demo = try? await task.value { demo.registry.stop() }
        }
    }

    static func withShared(_ body: () async throws -> Void) async throws {
        let demo = try await shared.acquire()
        do {
            try await $current.withValue(demo) { try await body() }
        } catch {
            await shared.release()
            throw error
        }
        await shared.release()
    }
}

/// Gives a suite's tests the shared demo registry (``DemoRegistry/get()``).
struct DemoRegistryTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await DemoRegistry.withShared { try await function() }
    }
}

extension Trait where Self == DemoRegistryTrait {
    /// The suite shares one seeded demo registry.
    static var demoRegistry: Self { DemoRegistryTrait() }
}
