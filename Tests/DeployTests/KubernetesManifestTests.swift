import Foundation
import MirrorConfig
import Testing
import Yams

/// `deploy/kubernetes/`: the YAML parses, every object has what the API server requires, the Indexed Job is one
/// (`completionMode: Indexed`, `backoffLimitPerIndex`, `restartPolicy: Never`), its shard count agrees everywhere,
/// names refer to objects that exist, and the ConfigMap's mirror list is one ferry accepts. With kubectl on the
/// machine, kubectl reads them too (offline: `kubectl label --local`).
@Suite struct KubernetesManifestTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/kubernetes").path

    typealias Object = [String: Any]

    /// Every document of every file, with its file name.
    static func objects() throws -> [(file: String, object: Object)] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
            .sorted()
        var result: [(String, Object)] = []
        for file in files {
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            for document in try Yams.load_all(yaml: text) {
                let object = try #require(document as? Object, "\(file): a document that is not a mapping")
                result.append((file, object))
            }
        }
        return result
    }

    static func value(_ object: Any?, _ path: String...) -> Any? {
        var current = object
        for key in path { current = (current as? Object)?[key] }
        return current
    }

    static func named(_ kind: String, _ objects: [(file: String, object: Object)]) -> Set<String> {
        Set(
            objects.filter { $0.object["kind"] as? String == kind }
                .compactMap { value($0.object, "metadata", "name") as? String })
    }

    @Test func everyObjectHasApiVersionKindAndName() throws {
        let objects = try Self.objects()
        #expect(Set(objects.map(\.file)) == [
            "argo-workflow.yaml", "configmap-mirror-list.yaml", "job-merge.yaml", "job-sync-shards-emptydir.yaml", "job-sync-shards.yaml",
            "pvc-stores.yaml", "secret-credentials.yaml",
        ])
        for (file, object) in objects {
            #expect(object["apiVersion"] is String, "\(file)")
            #expect(object["kind"] is String, "\(file)")
            // A Workflow is usually submitted under a generated name.
            #expect(
                Self.value(object, "metadata", "name") is String || Self.value(object, "metadata", "generateName") is String,
                "\(file)")
        }
        #expect(Self.named("ConfigMap", objects) == ["ferry-mirror-list"])
        #expect(Self.named("Secret", objects) == ["ferry-credentials"])
        #expect(Self.named("PersistentVolumeClaim", objects) == ["ferry-stores"])
        #expect(Self.named("Job", objects) == ["ferry-sync", "ferry-sync-push", "ferry-merge"])
    }

    @Test func theShardJobsAreIndexedJobsWhoseCountsAgree() throws {
        let objects = try Self.objects()
        let indexed = objects.filter { Self.value($0.object, "spec", "completionMode") != nil }
        #expect(indexed.map(\.file).sorted() == ["job-sync-shards-emptydir.yaml", "job-sync-shards.yaml"])
        for (file, job) in indexed {
            #expect(job["apiVersion"] as? String == "batch/v1", "\(file)")
            #expect(Self.value(job, "spec", "completionMode") as? String == "Indexed", "\(file)")
            #expect(Self.value(job, "spec", "backoffLimitPerIndex") is Int, "\(file)")
            // backoffLimitPerIndex requires pods that are not restarted in place.
            #expect(Self.value(job, "spec", "template", "spec", "restartPolicy") as? String == "Never", "\(file)")
            let completions = try #require(Self.value(job, "spec", "completions") as? Int, "\(file)")
            #expect(Self.value(job, "spec", "parallelism") as? Int == completions, "\(file)")
            let containers = try #require(Self.value(job, "spec", "template", "spec", "containers") as? [Object])
            let args = try #require(containers.first?["args"] as? [String], "\(file)")
            #expect(args.first == "sync", "\(file)")
            let shards = try #require(args.firstIndex(of: "--shards").map { args[$0 + 1] }, "\(file)")
            #expect(try Shard.count(parsing: shards) == completions, "\(file)")
            try Self.checkVolumes(file, job, objects)
        }
        let (_, persistent) = try #require(objects.first { $0.file == "job-sync-shards.yaml" })
        let container = try #require((Self.value(persistent, "spec", "template", "spec", "containers") as? [Object])?.first)
        let mounts = try #require(container["volumeMounts"] as? [Object])
        #expect(mounts.contains { $0["subPathExpr"] as? String == "shard-$(JOB_COMPLETION_INDEX)" })
        let env = try #require(container["env"] as? [Object])
        let group = try #require(env.first { $0["name"] as? String == "FERRY_SHARD_GROUP" })
        #expect(Self.value(group, "valueFrom", "fieldRef", "fieldPath") as? String
            == "metadata.labels['batch.kubernetes.io/job-name']")

        // The merge Job merges exactly the stores the shards write.
        let (_, merge) = try #require(objects.first { $0.file == "job-merge.yaml" })
        let mergeArgs = try #require(
            (Self.value(merge, "spec", "template", "spec", "containers") as? [Object])?.first?["args"] as? [String])
        let completions = try #require(Self.value(persistent, "spec", "completions") as? Int)
        #expect(mergeArgs == ["merge"] + (0..<completions).map { "/stores/shard-\($0)" } + ["--store", "/stores/merged"])
        try Self.checkVolumes("job-merge.yaml", merge, objects)
    }

    /// Every mount names a volume of the pod, and every ConfigMap, Secret and claim a volume names is defined.
    static func checkVolumes(_ file: String, _ job: Object, _ objects: [(file: String, object: Object)]) throws {
        let spec = try #require(value(job, "spec", "template", "spec") as? Object)
        let volumes = try #require(spec["volumes"] as? [Object], "\(file)")
        let names = Set(volumes.compactMap { $0["name"] as? String })
        for container in spec["containers"] as? [Object] ?? [] {
            for mount in container["volumeMounts"] as? [Object] ?? [] {
                #expect(names.contains(mount["name"] as? String ?? ""), "\(file): \(mount)")
            }
        }
        for volume in volumes {
            if let name = value(volume, "configMap", "name") as? String {
                #expect(named("ConfigMap", objects).contains(name), "\(file): \(name)")
            }
            if let name = value(volume, "secret", "secretName") as? String {
                #expect(named("Secret", objects).contains(name), "\(file): \(name)")
            }
            if let name = value(volume, "persistentVolumeClaim", "claimName") as? String {
                #expect(named("PersistentVolumeClaim", objects).contains(name), "\(file): \(name)")
            }
        }
    }

    /// The Argo form: the shard step fans out over `ferry plan --json` (whose objects have `arg` and `shard`), the
    /// merge step comes after it, and every volume a template mounts is the workflow's.
    @Test func theArgoWorkflowFansOutOverThePlan() throws {
        let (_, workflow) = try #require(try Self.objects().first { $0.object["kind"] as? String == "Workflow" })
        let templates = try #require(Self.value(workflow, "spec", "templates") as? [Object])
        let byName = Dictionary(uniqueKeysWithValues: templates.compactMap { t in (t["name"] as? String).map { ($0, t) } })
        let steps = try #require(byName["mirror"]?["steps"] as? [[Object]])
        #expect(steps.map { $0.compactMap { $0["name"] as? String } } == [["plan"], ["shard"], ["merge"]])
        let shard = try #require(steps[1].first)
        #expect(shard["withParam"] as? String == "{{steps.plan.outputs.result}}")
        let source = try #require(Self.value(byName["plan"], "script", "source") as? String)
        #expect(source.contains("ferry plan --shards {{workflow.parameters.shards}} --json"))
        let args = try #require(Self.value(byName["shard"], "container", "args") as? [String])
        #expect(args.starts(with: ["sync", "--shard", "{{inputs.parameters.arg}}", "--shard-group", "{{workflow.name}}"]))
        let volumes = Set((Self.value(workflow, "spec", "volumes") as? [Object] ?? []).compactMap { $0["name"] as? String })
        for template in templates {
            let mounts = (Self.value(template, "container", "volumeMounts") ?? Self.value(template, "script", "volumeMounts"))
                as? [Object] ?? []
            for mount in mounts { #expect(volumes.contains(mount["name"] as? String ?? ""), "\(mount)") }
        }
    }

    @Test func theConfigMapHoldsAValidMirrorList() throws {
        let objects = try Self.objects()
        let (_, map) = try #require(objects.first { $0.object["kind"] as? String == "ConfigMap" })
        let text = try #require(Self.value(map, "data", "mirrors.yaml") as? String)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-deploy-\(UUID()).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let list = try MirrorList.load(from: path, environment: [:])
        #expect(list.images.count == 4)
        #expect(try list.shards(3).map(\.images.count).reduce(0, +) == 4)
    }

    static let kubectl: String? = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Only where kubectl is installed. Without a cluster, `apply --dry-run=client` cannot run (it asks the API
    /// server for its resource list), so the offline check is `label --local`: kubectl reads every file as
    /// Kubernetes objects and names each; `kubectl apply --dry-run=server -f deploy/kubernetes` against a cluster
    /// is the full check.
    @Test(.enabled(if: kubectl != nil)) func kubectlReadsTheManifests() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.kubectl))
        // The Argo Workflow is a custom resource, which kubectl names only with a cluster's help.
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory)
            .filter { $0.hasSuffix(".yaml") && $0 != "argo-workflow.yaml" }.sorted()
        process.arguments =
            ["label", "--local"] + files.flatMap { ["-f", Self.directory + "/" + $0] }
            + ["ferry.dev/checked=yes", "-o", "name"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let names = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init).sorted()
        #expect(names == [
            "configmap/ferry-mirror-list", "job.batch/ferry-merge", "job.batch/ferry-sync", "job.batch/ferry-sync-push",
            "persistentvolumeclaim/ferry-stores", "secret/ferry-credentials",
        ])
    }
}
