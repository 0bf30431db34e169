// The schemas are Swift strings rather than bundled resources: resources would add Foundation.Bundle lookups to a
// command-line binary that is copied around on its own. `ferry report --schema` prints them; FerryReportsTests
// validates every produced report against them, so a field added to the Swift types without a schema entry
// (`additionalProperties: false`) fails the tests.

/// The JSON Schema documents of the report formats, one per schema version.
public enum ReportSchema {
    /// The run report schema v2 before the referrer additions of ``runReportV2`` (see ReportSchema+RunV2.swift):
    /// version 2 added the per-host requests (`hosts`), the `deferred` outcome and count, `notAsked`, each row's
    /// `checked` and `retryAt`, and its `referrers` with the drift kind `referrer-removed`.
    static let runReportV2Base = #"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "https://ferry.dev/schemas/run-report/v2.json",
          "title": "ferry run report, version 2",
          "description": "What one ferry run did: written to DIR/reports/<run-id>.json after every run and printed by `ferry report --format json`. Optional fields are omitted when absent, never null. Any change to the fields, even an added one, comes with a new schema version.",
          "type": "object",
          "additionalProperties": false,
          "required": ["$schema", "schemaVersion", "run", "counts", "driftEvents", "images", "pushes", "hosts"],
          "properties": {
            "$schema": {"description": "This schema's identifier.", "const": "https://ferry.dev/schemas/run-report/v2.json"},
            "schemaVersion": {"description": "Report schema version; any change to the fields bumps it.", "const": 2},
            "run": {
              "description": "The run's identity and how it ended.",
              "type": "object",
              "additionalProperties": false,
              "required": ["id", "command", "status", "dryRun", "startedAt"],
              "properties": {
                "id": {"$ref": "#/$defs/runID", "description": "The run ID: UTC start second plus four random hex digits."},
                "command": {"type": "string", "description": "The subcommand that ran: sync, pull, import."},
                "status": {"description": "How the run ended: running (not finished, or killed), completed (every reference attempted), interrupted (SIGINT/SIGTERM after a clean stop), failed (aborted by a store or I/O error), dry-run.", "enum": ["running", "completed", "interrupted", "failed", "dry-run"]},
                "exitStatus": {"type": "integer", "description": "The process exit status (0 ok, 1 failures, 2 drift, 3 both, 74 I/O, 130/143 interrupted); absent while running."},
                "dryRun": {"type": "boolean", "description": "True for --dry-run: tags and digests were left alone."},
                "startedAt": {"$ref": "#/$defs/time", "description": "Start time."},
                "finishedAt": {"$ref": "#/$defs/time", "description": "End time; absent while running."},
                "durationMilliseconds": {"type": "integer", "minimum": 0, "description": "Wall time from start to end; absent while running."},
                "configFingerprint": {"type": "string", "description": "A digest of the merged mirror list, to tell whether the configuration changed between runs."},
                "toolVersion": {"type": "string", "description": "The ferry version that ran."}
              }
            },
            "counts": {
              "description": "Totals over the run's observations; each reference counts once, under its outcome.",
              "type": "object",
              "additionalProperties": false,
              "required": ["references", "pulled", "upToDate", "updated", "failed", "drift", "deferred", "notAsked", "driftEvents", "bytesTransferred", "targetsPushed", "targetsUpToDate", "targetsFailed"],
              "properties": {
                "references": {"type": "integer", "minimum": 0, "description": "References attempted."},
                "pulled": {"type": "integer", "minimum": 0, "description": "References stored for the first time."},
                "upToDate": {"type": "integer", "minimum": 0, "description": "References already current."},
                "updated": {"type": "integer", "minimum": 0, "description": "Tags that moved to a new digest."},
                "failed": {"type": "integer", "minimum": 0, "description": "References that could not be resolved."},
                "drift": {"type": "integer", "minimum": 0, "description": "References that raised at least one drift event."},
                "deferred": {"type": "integer", "minimum": 0, "description": "References a registry's rate limit deferred to a later run (not failures)."},
                "notAsked": {"type": "integer", "minimum": 0, "description": "Up-to-date references that were not asked for at all (immutable-tags); included in upToDate."},
                "driftEvents": {"type": "integer", "minimum": 0, "description": "Drift events raised; one reference can raise several."},
                "bytesTransferred": {"type": "integer", "minimum": 0, "description": "Bytes transferred over the network."},
                "targetsPushed": {"type": "integer", "minimum": 0, "description": "Pushes to target registries that wrote something."},
                "targetsUpToDate": {"type": "integer", "minimum": 0, "description": "Pushes that found the destination already current."},
                "targetsFailed": {"type": "integer", "minimum": 0, "description": "Pushes that failed."}
              }
            },
            "driftEvents": {
              "description": "The drift events the run raised, in the order they were recorded.",
              "type": "array",
              "items": {"$ref": "#/$defs/driftEvent"}
            },
            "images": {
              "description": "One row per reference attempted: drift first, then failed, updated, pulled, up-to-date; by reference within each group.",
              "type": "array",
              "items": {"$ref": "#/$defs/image"}
            },
            "hosts": {
              "description": "Requests the run made, per host (redirect targets and token servers included), and what each host said about its rate limit; sorted by host.",
              "type": "array",
              "items": {"$ref": "#/$defs/host"}
            },
            "pushes": {
              "description": "Pushes of references that have no image row in this run (a ferry push run pushes stored references without resolving them), in the order recorded; the others are under their image row's targets.",
              "type": "array",
              "items": {"$ref": "#/$defs/target"}
            }
          },
          "$defs": {
            "digest": {"type": "string", "pattern": "^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$", "description": "A content digest, algorithm:encoded (sha256:<64 hex>)."},
            "time": {"type": "string", "format": "date-time", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", "description": "UTC time with milliseconds."},
            "runID": {"type": "string", "pattern": "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$", "description": "A run ID, yyyyMMddTHHmmssZ-xxxx."},
            "outcome": {"enum": ["pulled", "up-to-date", "updated", "failed", "drift", "deferred"], "description": "pulled: stored for the first time; up-to-date: already current; updated: the tag moved; failed: not resolved; drift: raised a drift event; deferred: a registry's rate limit stopped it before anything was fetched, a later run takes it."},
            "host": {
              "type": "object",
              "additionalProperties": false,
              "required": ["host", "requests", "total", "throttled", "blocked"],
              "description": "One host's requests in the run.",
              "properties": {
                "host": {"type": "string", "description": "host[:port]."},
                "requests": {
                  "type": "array",
                  "description": "Requests by kind, in a fixed order; kinds with none are left out.",
                  "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["kind", "count"],
                    "properties": {
                      "kind": {"enum": ["manifest-head", "manifest-get", "blob", "tags", "token", "ping", "push", "referrers", "other"], "description": "manifest-head and manifest-get: HEAD and GET of a manifest (Docker Hub counts GETs only); blob: blob downloads and existence checks; tags: tag list pages; token: token server requests; ping: GET /v2/; push: uploads and manifest PUTs."},
                      "count": {"type": "integer", "minimum": 1, "description": "Requests of this kind."}
                    }
                  }
                },
                "total": {"type": "integer", "minimum": 0, "description": "All requests to the host."},
                "throttled": {"type": "integer", "minimum": 0, "description": "Responses with status 429."},
                "limit": {"type": "integer", "minimum": 0, "description": "The quota the host advertised (RateLimit-Limit or RateLimit-Policy), per window."},
                "remaining": {"type": "integer", "minimum": 0, "description": "What was left of the quota at the end of the run."},
                "resetAt": {"$ref": "#/$defs/time", "description": "When the quota comes back (a full window from the last answer when the host gives no reset time)."},
                "blocked": {"type": "boolean", "description": "True when a 429 stopped new work on the host."},
                "blockedUntil": {"$ref": "#/$defs/time", "description": "When a blocked host may be asked again (Retry-After); absent with blocked: not in this run."}
              }
            },
            "driftKind": {"enum": ["image-id-drift", "tag-moved", "mirror-divergence"], "description": "image-id-drift: a known digest now resolves to another image ID (the old mapping is kept); tag-moved: an immutable tag points to a new digest; mirror-divergence: a mirror served another digest than the upstream's HEAD."},
            "mediaType": {"type": "string", "description": "A manifest media type."},
            "endpoint": {
              "type": "object",
              "additionalProperties": false,
              "required": ["url", "mirror"],
              "description": "A registry endpoint, without credentials.",
              "properties": {
                "url": {"type": "string", "description": "The endpoint URL."},
                "mirror": {"type": "boolean", "description": "True when the endpoint is not the reference's own registry host (for docker.io: not registry-1.docker.io)."}
              }
            },
            "target": {
              "type": "object",
              "additionalProperties": false,
              "required": ["reference", "target", "destination", "outcome", "bytesUploaded"],
              "description": "One push of one reference to one target.",
              "properties": {
                "reference": {"type": "string", "description": "The source reference pushed."},
                "target": {"type": "string", "description": "The target's name in the mirror list, or --to for an ad-hoc destination."},
                "destination": {"type": "string", "description": "The reference written in the target registry (or layout)."},
                "outcome": {"enum": ["pushed", "up-to-date", "failed"], "description": "pushed: something was written; up-to-date: the destination tag already pointed at the digest; failed: see error."},
                "digest": {"$ref": "#/$defs/digest", "description": "The manifest digest pushed."},
                "bytesUploaded": {"type": "integer", "minimum": 0, "description": "Bytes uploaded."},
                "error": {"type": "string", "description": "Why the push failed (credentials removed)."}
              }
            },
            "driftEvent": {
              "type": "object",
              "additionalProperties": false,
              "required": ["kind", "reference", "repository", "digest", "oldValue", "newValue", "endpoint", "runID", "dryRun", "occurredAt"],
              "description": "One drift event.",
              "properties": {
                "kind": {"$ref": "#/$defs/driftKind"},
                "reference": {"type": "string", "description": "The normalized reference being synced."},
                "repository": {"type": "string", "description": "The repository's full name."},
                "digest": {"$ref": "#/$defs/digest", "description": "The manifest digest concerned: the drifting digest, the tag's new digest, or the mirror's digest."},
                "platform": {"type": "string", "description": "For image-ID drift through an index: the platform (os/arch[/variant]) whose mapping drifted."},
                "oldValue": {"$ref": "#/$defs/digest", "description": "image-id-drift: the kept image ID; tag-moved: the previous digest; mirror-divergence: the mirror's digest."},
                "newValue": {"$ref": "#/$defs/digest", "description": "image-id-drift: the new image ID; tag-moved: the new digest; mirror-divergence: the upstream's digest."},
                "endpoint": {"$ref": "#/$defs/endpoint", "description": "The endpoint that served the content (the mirror, for mirror-divergence)."},
                "upstreamEndpoint": {"type": "string", "description": "For mirror-divergence: the upstream endpoint whose HEAD disagreed."},
                "runID": {"$ref": "#/$defs/runID", "description": "The run that raised it."},
                "dryRun": {"type": "boolean", "description": "True when raised by a dry run (nothing was changed)."},
                "occurredAt": {"$ref": "#/$defs/time", "description": "When it was observed."}
              }
            },
            "image": {
              "type": "object",
              "additionalProperties": false,
              "required": ["reference", "repository", "outcome", "driftKinds", "platforms", "attempts", "targets", "bytesTransferred", "durationMilliseconds", "immutable", "checked", "dryRun", "observedAt"],
              "description": "What happened to one reference.",
              "properties": {
                "reference": {"type": "string", "description": "The normalized source reference (:latest added when name-only)."},
                "repository": {"type": "string", "description": "The repository's full name."},
                "tag": {"type": "string", "description": "The tag, for a tag reference."},
                "requestedDigest": {"$ref": "#/$defs/digest", "description": "The pinned digest, for a digest reference."},
                "outcome": {"$ref": "#/$defs/outcome"},
                "driftKinds": {"type": "array", "items": {"$ref": "#/$defs/driftKind"}, "description": "The drift kinds raised; non-empty exactly when outcome is drift."},
                "previousDigest": {"$ref": "#/$defs/digest", "description": "The digest the tag pointed to before this run."},
                "digest": {"$ref": "#/$defs/digest", "description": "The resolved manifest or index digest; absent on failure."},
                "mediaType": {"$ref": "#/$defs/mediaType", "description": "The resolved media type; absent on failure."},
                "imageID": {"$ref": "#/$defs/digest", "description": "The image ID (config digest) of an image manifest; absent for an index and on failure."},
                "platforms": {
                  "type": "array",
                  "description": "For an index: the selected children.",
                  "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["platform", "digest", "mediaType", "imageID"],
                    "properties": {
                      "platform": {"type": "string", "description": "os/arch[/variant]."},
                      "digest": {"$ref": "#/$defs/digest", "description": "The child manifest's digest."},
                      "mediaType": {"$ref": "#/$defs/mediaType", "description": "The child's media type."},
                      "imageID": {"$ref": "#/$defs/digest", "description": "The child's image ID."}
                    }
                  }
                },
                "servedBy": {"$ref": "#/$defs/endpoint", "description": "The endpoint that served it; absent on failure."},
                "attempts": {
                  "type": "array",
                  "description": "Endpoints tried before the one that served it (all of them, on failure), in order, and why each was skipped.",
                  "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["endpoint", "error", "fellBack"],
                    "properties": {
                      "endpoint": {"$ref": "#/$defs/endpoint"},
                      "error": {"type": "string", "description": "Why it did not serve the reference."},
                      "fellBack": {"type": "boolean", "description": "True when ferry moved on to the next endpoint; false when this error ended the pull."}
                    }
                  }
                },
                "upstream": {
                  "type": "object",
                  "additionalProperties": false,
                  "required": ["digest", "endpoint"],
                  "description": "With verify-upstream: what the upstream registry's HEAD returned for a tag a mirror served.",
                  "properties": {
                    "digest": {"$ref": "#/$defs/digest", "description": "The digest the upstream's HEAD returned."},
                    "endpoint": {"type": "string", "description": "The upstream endpoint asked."}
                  }
                },
                "targets": {
                  "type": "array",
                  "description": "Pushes of this reference to target registries.",
                  "items": {"$ref": "#/$defs/target"}
                },
                "bytesTransferred": {"type": "integer", "minimum": 0, "description": "Bytes transferred over the network for this reference."},
                "durationMilliseconds": {"type": "integer", "minimum": 0, "description": "Wall time spent on this reference."},
                "error": {"type": "string", "description": "The final error, on failure (credentials removed)."},
                "immutable": {"type": "boolean", "description": "The image entry's immutable flag, or a tag matching its immutable-tags: a tag move is drift."},
                "checked": {"type": "boolean", "description": "False when the tag was not asked for (it matches immutable-tags, is recorded and was checked within revalidate): the row repeats what the store records."},
                "retryAt": {"$ref": "#/$defs/time", "description": "For a deferred reference: when its registry may be asked again (absent: not known)."},
                "dryRun": {"type": "boolean", "description": "True for a dry run: the outcome is what would have happened."},
                "observedAt": {"$ref": "#/$defs/time", "description": "When it was observed."}
              }
            }
          }
        }
        """#

    /// JSON Schema (2020-12) of ``InventoryReport`` v1, with a description of every field.
    public static let inventoryReportV1 = #"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "https://ferry.dev/schemas/inventory-report/v1.json",
          "title": "ferry inventory report, version 1",
          "description": "Everything the store has recorded, printed by `ferry report --inventory --format json`: every repository, tag and digest with its image ID, first and last seen, where it came from, tag history and drift history. Optional fields are omitted when absent.",
          "type": "object",
          "additionalProperties": false,
          "required": ["$schema", "schemaVersion", "generatedAt", "storeSchemaVersion", "counts", "repositories", "driftHistory"],
          "properties": {
            "$schema": {"const": "https://ferry.dev/schemas/inventory-report/v1.json", "description": "This schema's identifier."},
            "schemaVersion": {"const": 1, "description": "Report schema version."},
            "generatedAt": {"$ref": "#/$defs/time", "description": "When the store was read; the report shows its state at that moment."},
            "storeSchemaVersion": {"type": "integer", "description": "The reference store's schema version (ferry.db)."},
            "counts": {
              "type": "object",
              "additionalProperties": false,
              "required": ["repositories", "tags", "digests", "driftEvents"],
              "description": "Totals.",
              "properties": {
                "repositories": {"type": "integer", "minimum": 0, "description": "Repositories stored."},
                "tags": {"type": "integer", "minimum": 0, "description": "Tags with a current mapping."},
                "digests": {"type": "integer", "minimum": 0, "description": "Distinct manifest or index digests with an image ID mapping."},
                "driftEvents": {"type": "integer", "minimum": 0, "description": "Drift events outside dry runs."}
              }
            },
            "repositories": {
              "type": "array",
              "description": "Every repository, by name.",
              "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["repository", "firstSeen", "tags", "digests", "drift"],
                "properties": {
                  "repository": {"type": "string", "description": "The repository's full name."},
                  "firstSeen": {"$ref": "#/$defs/time", "description": "When it was first stored."},
                  "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "description": "Its tags, by name."},
                  "digests": {"type": "array", "items": {"$ref": "#/$defs/digestMapping"}, "description": "Its write-once digest[, platform] to image ID mappings, by digest then platform."},
                  "drift": {"type": "array", "items": {"$ref": "#/$defs/driftEvent"}, "description": "Drift events raised for it, oldest first."}
                }
              }
            },
            "driftHistory": {"type": "array", "items": {"$ref": "#/$defs/driftEvent"}, "description": "Every drift event outside dry runs, oldest first."}
          },
          "$defs": {
            \#(sharedDefinitions),
            "tag": {
              "type": "object",
              "additionalProperties": false,
              "required": ["tag", "reference", "digest", "mediaType", "firstSeen", "lastSeen", "lastChecked", "servedBy", "lastRunID", "history"],
              "description": "A tag's current mapping and its history.",
              "properties": {
                "tag": {"type": "string", "description": "The tag."},
                "reference": {"type": "string", "description": "repository:tag."},
                "digest": {"$ref": "#/$defs/digest", "description": "The manifest digest it points to now."},
                "mediaType": {"type": "string", "description": "That manifest's media type."},
                "imageID": {"$ref": "#/$defs/digest", "description": "The image ID; absent for an index (see digests for per-platform IDs)."},
                "firstSeen": {"$ref": "#/$defs/time", "description": "First observation of the tag."},
                "lastSeen": {"$ref": "#/$defs/time", "description": "Last observation confirming the current digest."},
                "lastChecked": {"$ref": "#/$defs/time", "description": "Last successful resolution of the tag."},
                "servedBy": {"$ref": "#/$defs/endpoint", "description": "Where the current mapping came from."},
                "lastRunID": {"$ref": "#/$defs/runID", "description": "The run that last observed it."},
                "history": {
                  "type": "array",
                  "description": "Every digest the tag pointed to, one entry per stretch of time, oldest first.",
                  "items": {"$ref": "#/$defs/historyEntry"}
                }
              }
            },
            "digestMapping": {
              "type": "object",
              "additionalProperties": false,
              "required": ["reference", "digest", "imageID", "mediaType", "firstSeen", "firstRunID", "servedBy"],
              "description": "A write-once repository@digest[, platform] to image ID mapping.",
              "properties": {
                "reference": {"type": "string", "description": "repository@digest."},
                "digest": {"$ref": "#/$defs/digest", "description": "The manifest or index digest."},
                "platform": {"type": "string", "description": "For an index: the platform whose child this maps to."},
                "imageID": {"$ref": "#/$defs/digest", "description": "The image ID."},
                "childDigest": {"$ref": "#/$defs/digest", "description": "For an index: the selected child manifest."},
                "mediaType": {"type": "string", "description": "The media type of digest."},
                "firstSeen": {"$ref": "#/$defs/time", "description": "When the mapping was written."},
                "firstRunID": {"$ref": "#/$defs/runID", "description": "The run that wrote it."},
                "servedBy": {"$ref": "#/$defs/endpoint", "description": "The endpoint that served it then."}
              }
            }

          }
        }
        """#

    /// JSON Schema (2020-12) of ``ChangesReport`` v1.
    public static let changesReportV1 = #"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "https://ferry.dev/schemas/changes-report/v1.json",
          "title": "ferry changes report, version 1",
          "description": "What changed in the store after one run, printed by `ferry report --since RUN --format json`: runs after it, tags first seen after it, tags that moved after it, drift events after it. After means started later; the run's own changes are not included. Optional fields are omitted when absent.",
          "type": "object",
          "additionalProperties": false,
          "required": ["$schema", "schemaVersion", "generatedAt", "since", "runs", "counts", "added", "moved", "driftEvents"],
          "properties": {
            "$schema": {"const": "https://ferry.dev/schemas/changes-report/v1.json", "description": "This schema's identifier."},
            "schemaVersion": {"const": 1, "description": "Report schema version."},
            "generatedAt": {"$ref": "#/$defs/time", "description": "When the store was read."},
            "since": {"$ref": "#/$defs/run", "description": "The run the changes are counted from."},
            "runs": {"type": "array", "items": {"$ref": "#/$defs/run"}, "description": "The runs after it, oldest first."},
            "counts": {
              "type": "object",
              "additionalProperties": false,
              "required": ["runs", "added", "moved", "unchanged", "driftEvents"],
              "description": "Totals.",
              "properties": {
                "runs": {"type": "integer", "minimum": 0, "description": "Runs after since."},
                "added": {"type": "integer", "minimum": 0, "description": "Tags first seen after since."},
                "moved": {"type": "integer", "minimum": 0, "description": "Tags that pointed to another digest after since."},
                "unchanged": {"type": "integer", "minimum": 0, "description": "Tags known at since that never moved after it."},
                "driftEvents": {"type": "integer", "minimum": 0, "description": "Drift events after since (dry runs left out)."}
              }
            },
            "added": {
              "type": "array",
              "description": "Tags first seen after since, by reference.",
              "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["reference", "digest", "firstSeen", "firstRunID", "moves", "servedBy"],
                "properties": {
                  "reference": {"type": "string", "description": "repository:tag."},
                  "digest": {"$ref": "#/$defs/digest", "description": "The digest it points to now."},
                  "imageID": {"$ref": "#/$defs/digest", "description": "The image ID; absent for an index."},
                  "firstSeen": {"$ref": "#/$defs/time", "description": "When it was first seen."},
                  "firstRunID": {"$ref": "#/$defs/runID", "description": "The run that first saw it."},
                  "moves": {"type": "integer", "minimum": 0, "description": "How often it moved after it was first seen."},
                  "servedBy": {"$ref": "#/$defs/endpoint", "description": "Where its current digest came from."}
                }
              }
            },
            "moved": {
              "type": "array",
              "description": "Tags that pointed to another digest after since (possibly back to the one they had then), by reference.",
              "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["reference", "previousDigest", "digest", "moves", "servedBy"],
                "properties": {
                  "reference": {"type": "string", "description": "repository:tag."},
                  "previousDigest": {"$ref": "#/$defs/digest", "description": "The digest it pointed to at the end of since."},
                  "previousImageID": {"$ref": "#/$defs/digest", "description": "The image ID observed with that digest."},
                  "digest": {"$ref": "#/$defs/digest", "description": "The digest it points to now."},
                  "imageID": {"$ref": "#/$defs/digest", "description": "The image ID; absent for an index."},
                  "moves": {
                    "type": "array",
                    "description": "Every stretch after since, oldest first (at least one).",
                    "items": {"$ref": "#/$defs/historyEntry"}
                  },
                  "servedBy": {"$ref": "#/$defs/endpoint", "description": "Where its current digest came from."}
                }
              }
            },
            "driftEvents": {"type": "array", "items": {"$ref": "#/$defs/driftEvent"}, "description": "Drift events after since, oldest first."}
          },
          "$defs": {
            \#(sharedDefinitions),
            "run": {
              "type": "object",
              "additionalProperties": false,
              "required": ["id", "command", "startedAt", "status"],
              "description": "A run.",
              "properties": {
                "id": {"$ref": "#/$defs/runID", "description": "The run ID."},
                "command": {"type": "string", "description": "sync, pull, import, …"},
                "startedAt": {"$ref": "#/$defs/time", "description": "When it started."},
                "status": {"enum": ["running", "completed", "interrupted", "failed", "dry-run"], "description": "How it ended; running while it runs or when it was killed."},
                "exitStatus": {"type": "integer", "description": "Its exit status, when it finished."}
              }
            }
          }
        }
        """#

    /// The `$defs` the inventory and changes schemas share (the run report keeps its own, with longer texts).
    private static let sharedDefinitions = #"""
            "digest": {"type": "string", "pattern": "^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$", "description": "A content digest, algorithm:encoded."},
            "time": {"type": "string", "format": "date-time", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", "description": "UTC time with milliseconds."},
            "runID": {"type": "string", "pattern": "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$", "description": "A run ID."},
            "endpoint": {
              "type": "object",
              "additionalProperties": false,
              "required": ["url", "mirror"],
              "description": "A registry endpoint, without credentials.",
              "properties": {
                "url": {"type": "string", "description": "The endpoint URL."},
                "mirror": {"type": "boolean", "description": "True when the endpoint is not the repository's own registry host."}
              }
            },
            "historyEntry": {
              "type": "object",
              "additionalProperties": false,
              "required": ["digest", "firstSeen", "lastSeen", "firstRunID", "lastRunID"],
              "description": "One stretch of time during which a tag pointed to one digest.",
              "properties": {
                "digest": {"$ref": "#/$defs/digest", "description": "The digest the tag pointed to."},
                "imageID": {"$ref": "#/$defs/digest", "description": "The image ID observed with it."},
                "firstSeen": {"$ref": "#/$defs/time", "description": "First observation of this stretch."},
                "lastSeen": {"$ref": "#/$defs/time", "description": "Last observation of this stretch."},
                "firstRunID": {"$ref": "#/$defs/runID", "description": "The run that started the stretch."},
                "lastRunID": {"$ref": "#/$defs/runID", "description": "The run that last confirmed it."}
              }
            },
            "driftEvent": {
              "type": "object",
              "additionalProperties": false,
              "required": ["kind", "reference", "repository", "digest", "oldValue", "newValue", "endpoint", "runID", "dryRun", "occurredAt"],
              "description": "One drift event.",
              "properties": {
                "kind": {"enum": ["image-id-drift", "tag-moved", "mirror-divergence", "referrer-removed"], "description": "image-id-drift: a known digest now resolves to another image ID (the old mapping is kept); tag-moved: an immutable tag points to a new digest; mirror-divergence: a mirror served another digest than the upstream's HEAD; referrer-removed: a recorded referrer (signature, SBOM, attestation) is no longer found upstream (oldValue: the referrer; digest and newValue: its subject)."},
                "reference": {"type": "string", "description": "The normalized reference being synced."},
                "repository": {"type": "string", "description": "The repository's full name."},
                "digest": {"$ref": "#/$defs/digest", "description": "The manifest digest concerned: the drifting digest, the tag's new digest, or the mirror's digest."},
                "platform": {"type": "string", "description": "For image-ID drift through an index: the platform whose mapping drifted."},
                "oldValue": {"$ref": "#/$defs/digest", "description": "image-id-drift: the kept image ID; tag-moved: the previous digest; mirror-divergence: the mirror's digest."},
                "newValue": {"$ref": "#/$defs/digest", "description": "image-id-drift: the new image ID; tag-moved: the new digest; mirror-divergence: the upstream's digest."},
                "endpoint": {"$ref": "#/$defs/endpoint", "description": "The endpoint that served the content (the mirror, for mirror-divergence)."},
                "upstreamEndpoint": {"type": "string", "description": "For mirror-divergence: the upstream endpoint whose HEAD disagreed."},
                "runID": {"$ref": "#/$defs/runID", "description": "The run that raised it."},
                "dryRun": {"type": "boolean", "description": "Always false here: dry-run events are left out."},
                "occurredAt": {"$ref": "#/$defs/time", "description": "When it was observed."}
              }
            }
        """#
}
