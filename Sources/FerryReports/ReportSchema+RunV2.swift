import Foundation

extension ReportSchema {
    /// JSON Schema (2020-12) of ``RunReport`` v2, with a description of every field: the request-economy fields
    /// of ``runReportV2Base`` plus each image row's `referrers` and the drift kind `referrer-removed`.
    public static let runReportV2: String = runReportV2Base
        .replacingOccurrences(of: driftKindsV1, with: driftKindsV2)
        .replacingOccurrences(of: observedAtV1, with: observedAtV1 + ",\n" + referrersProperty)

    static let driftKindsV1 = ##""driftKind": {"enum": ["image-id-drift", "tag-moved", "mirror-divergence"], "description": "image-id-drift: a known digest now resolves to another image ID (the old mapping is kept); tag-moved: an immutable tag points to a new digest; mirror-divergence: a mirror served another digest than the upstream's HEAD."}"##

    static let driftKindsV2 = ##""driftKind": {"enum": ["image-id-drift", "tag-moved", "mirror-divergence", "referrer-removed"], "description": "image-id-drift: a known digest now resolves to another image ID (the old mapping is kept); tag-moved: an immutable tag points to a new digest; mirror-divergence: a mirror served another digest than the upstream's HEAD; referrer-removed: a referrer (signature, SBOM, attestation) recorded before is no longer found upstream (oldValue: the referrer, digest and newValue: its subject)."}"##

    static let observedAtV1 = ##""observedAt": {"$ref": "#/$defs/time", "description": "When it was observed."}"##

    static let referrersProperty = ##"""
                        "referrers": {
                          "type": "object",
                          "additionalProperties": false,
                          "required": ["count", "summary", "kinds", "signsWholeIndex", "items"],
                          "description": "The referrers (signatures, SBOMs, attestations) found and stored with this image, its children and each other; absent when none were found.",
                          "properties": {
                            "count": {"type": "integer", "minimum": 0, "description": "How many referrers."},
                            "summary": {"type": "string", "description": "E.g. 3 referrers: 1 signature, 1 SBOM, 1 attestation."},
                            "kinds": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}, "description": "Counts by kind: signature, sbom, attestation, other."},
                            "signsWholeIndex": {"type": "boolean", "description": "True for an index: its signatures sign every platform it lists; with platforms set the mirror holds only some of them (the index itself is kept byte for byte)."},
                            "items": {
                              "type": "array",
                              "description": "Each referrer, in discovery order (referrers of referrers after their subject).",
                              "items": {
                                "type": "object",
                                "additionalProperties": false,
                                "required": ["subject", "digest", "mediaType", "size", "artifactType", "kind", "foundBy"],
                                "properties": {
                                  "subject": {"$ref": "#/$defs/digest", "description": "The manifest it refers to."},
                                  "digest": {"$ref": "#/$defs/digest", "description": "The referrer manifest's digest."},
                                  "mediaType": {"$ref": "#/$defs/mediaType", "description": "Its media type."},
                                  "size": {"type": "integer", "minimum": 0, "description": "Its size in bytes."},
                                  "artifactType": {"type": "string", "description": "Its artifact type."},
                                  "kind": {"enum": ["signature", "sbom", "attestation", "other"], "description": "What the artifact type says it is."},
                                  "foundBy": {"enum": ["api", "fallback-tag", "cosign-tag", "bundle"], "description": "How it was found: the referrers API, the sha256-<hex> fallback tag, a cosign sha256-<hex>.sig/.att/.sbom tag, or in an imported bundle."},
                                  "tag": {"type": "string", "description": "The cosign tag it was found under."}
                                }
                              }
                            }
                          }
                        }
        """##
}
