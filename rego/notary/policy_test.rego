# Unit tests of the notary policy with a mocked registry (http.send) and a mocked verifier
# (data.notary.verify). Run by `make test` through the regorus test runner; `opa test` works too.
#
# The mocked http.send functions use literals only: regorus resolves rule names inside a mocked
# function body against the calling package when `with data…` is also in effect.
package notary.policy_test

import rego.v1

import data.notary.policy

# sha256 of the envelope bytes {"fake":1}
envelope_digest := "sha256:76d3260074523ea900d7ffd1011cc9e5cd1dbbe8db071e7f29891ba50e1053e2"

# The signature manifest (its sha256 is manifest_digest) whose layer is that envelope.
manifest_body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.notary.signature","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/jose+json","digest":"sha256:76d3260074523ea900d7ffd1011cc9e5cd1dbbe8db071e7f29891ba50e1053e2","size":10}]}`

manifest_digest := "sha256:2f05cf4a5fc8777a9905c8d0bbf2abc6d4eccc903f997fddb07eb47a886f6eac"

subject_digest := "sha256:1111111111111111111111111111111111111111111111111111111111111111"

image := "registry.test/app:v1"

fixture_config := {
	"registries": {"registry.test": {"scheme": "https"}},
	"trustPolicy": {"version": "1.0", "trustPolicies": []},
	"trustStores": {},
}

# A registry with one signature behind the referrers API.
mock_registry(req) := {"status_code": 200, "headers": {
	"docker-content-digest": ["sha256:1111111111111111111111111111111111111111111111111111111111111111"],
	"content-type": ["application/vnd.oci.image.manifest.v1+json"],
	"content-length": ["528"],
}} if {
	req.method == "HEAD"
	req.url == "https://registry.test/v2/app/manifests/v1"
} else := {"status_code": 200, "headers": {}, "body": {"manifests": [{
	"mediaType": "application/vnd.oci.image.manifest.v1+json",
	"digest": "sha256:2f05cf4a5fc8777a9905c8d0bbf2abc6d4eccc903f997fddb07eb47a886f6eac",
	"size": 424, "artifactType": "application/vnd.cncf.notary.signature",
}]}} if {
	req.url == "https://registry.test/v2/app/referrers/sha256:1111111111111111111111111111111111111111111111111111111111111111?artifactType=application%2Fvnd.cncf.notary.signature"
} else := {"status_code": 200, "headers": {}, "raw_body": `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.notary.signature","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/jose+json","digest":"sha256:76d3260074523ea900d7ffd1011cc9e5cd1dbbe8db071e7f29891ba50e1053e2","size":10}]}`} if {
	req.url == "https://registry.test/v2/app/manifests/sha256:2f05cf4a5fc8777a9905c8d0bbf2abc6d4eccc903f997fddb07eb47a886f6eac"
} else := {"status_code": 200, "headers": {}, "raw_body": `{"fake":1}`} if {
	req.url == "https://registry.test/v2/app/blobs/sha256:76d3260074523ea900d7ffd1011cc9e5cd1dbbe8db071e7f29891ba50e1053e2"
} else := {"status_code": 404, "headers": {}}

# The same registry without the referrers API: signatures in the sha256-<hex> index.
mock_tag_schema(req) := {"status_code": 404, "headers": {}} if {
	contains(req.url, "/referrers/")
} else := {"status_code": 200, "headers": {}, "body": {"manifests": [{
	"mediaType": "application/vnd.oci.image.manifest.v1+json",
	"digest": "sha256:2f05cf4a5fc8777a9905c8d0bbf2abc6d4eccc903f997fddb07eb47a886f6eac",
	"size": 424, "artifactType": "application/vnd.cncf.notary.signature",
}]}} if {
	req.url == "https://registry.test/v2/app/manifests/sha256-1111111111111111111111111111111111111111111111111111111111111111"
} else := data.notary.policy_test.mock_registry(req)

# Two pages: the first (an SBoM only) links to the second, which holds the signature.
mock_paged(req) := {"status_code": 200, "headers": {"link": ["</v2/app/referrers/page2>; rel=\"next\""]}, "body": {"manifests": [{"digest": "sha256:00", "artifactType": "application/spdx+json"}]}} if {
	startswith(req.url, "https://registry.test/v2/app/referrers/sha256:")
} else := data.notary.policy_test.mock_registry(object.union(req, {"url": "https://registry.test/v2/app/referrers/sha256:1111111111111111111111111111111111111111111111111111111111111111?artifactType=application%2Fvnd.cncf.notary.signature"})) if {
	req.url == "https://registry.test/v2/app/referrers/page2"
} else := data.notary.policy_test.mock_registry(req)

# Pages that never end.
mock_endless(req) := {"status_code": 200, "headers": {"link": ["</v2/app/referrers/next>; rel=\"next\""]}, "body": {"manifests": []}} if {
	contains(req.url, "/referrers/")
} else := data.notary.policy_test.mock_registry(req)

# A first page whose next link points at another host.
mock_foreign_link(req) := {"status_code": 200, "headers": {"link": ["<https://elsewhere.test/v2/app/referrers/page2>; rel=\"next\""]}, "body": {"manifests": []}} if {
	startswith(req.url, "https://registry.test/v2/app/referrers/sha256:")
} else := {"status_code": 200, "headers": {}, "body": {"manifests": [{
	"mediaType": "application/vnd.oci.image.manifest.v1+json",
	"digest": "sha256:2f05cf4a5fc8777a9905c8d0bbf2abc6d4eccc903f997fddb07eb47a886f6eac",
	"size": 424, "artifactType": "application/vnd.cncf.notary.signature",
}]}} if {
	startswith(req.url, "https://elsewhere.test/")
} else := data.notary.policy_test.mock_registry(req)

# A registry whose image has no referrers at all.
mock_unsigned(req) := {"status_code": 200, "headers": {}, "body": {"manifests": []}} if {
	contains(req.url, "/referrers/")
} else := data.notary.policy_test.mock_registry(req)

mock_down(_) := {"status_code": 0, "error": {"message": "connection refused"}}

# The envelope blob does not hash to its digest.
mock_tampered(req) := {"status_code": 200, "headers": {}, "raw_body": `{"fake":2}`} if {
	endswith(req.url, "sha256:76d3260074523ea900d7ffd1011cc9e5cd1dbbe8db071e7f29891ba50e1053e2")
} else := data.notary.policy_test.mock_registry(req)

verified := {"verified": true, "errors": [], "signatures": []}

rejected := {"verified": false, "errors": ["sha256:aa: authenticity: no certificate of the chain is in the policy's trust stores"]}

test_fixture_digests_are_consistent if {
	envelope_digest == sprintf("sha256:%s", [crypto.sha256(`{"fake":1}`)])
	manifest_digest == sprintf("sha256:%s", [crypto.sha256(manifest_body)])
}

test_reference_parsing if {
	r := policy.parse_reference("localhost:5000/team/app:1.0")
	r.registry == "localhost:5000"
	r.repository == "team/app"
	r.tag == "1.0"
	r.fqrn == "localhost:5000/team/app"
	d := policy.parse_reference(sprintf("r.io/app@%s", [subject_digest]))
	d.digest == subject_digest
	d.tag == ""
	not policy.parse_reference("app:latest")
	not policy.parse_reference("r.io/app")
	not policy.parse_reference("r.io/App:1")
}

test_signed_image_is_allowed if {
	policy.allow with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_registry
		with data.notary.verify as verified
}

test_rejected_signature_is_denied_with_its_reason if {
	denies := policy.deny with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_registry
		with data.notary.verify as rejected
	some msg in denies
	contains(msg, image)
	contains(msg, "authenticity")
	not policy.allow with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_registry
		with data.notary.verify as rejected
}

test_unsigned_image_is_denied if {
	denies := policy.deny with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_unsigned
		with data.notary.verify as verified
	some msg in denies
	contains(msg, "no signature found")
	missing := policy.deny with input as {"image": "registry.test/missing:v1"}
		with data.notary.config as fixture_config
		with http.send as mock_registry
		with data.notary.verify as verified
	some m in missing
	contains(m, "HTTP 404")
}

test_registry_down_is_denied if {
	denies := policy.deny with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_down
		with data.notary.verify as verified
	some msg in denies
	contains(msg, "registry unreachable")
}

test_tag_schema_fallback_finds_signatures if {
	policy.allow with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_tag_schema
		with data.notary.verify as verified
}

test_pagination_is_followed if {
	policy.allow with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_paged
		with data.notary.verify as verified
}

test_endless_pagination_is_denied if {
	denies := policy.deny with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_endless
		with data.notary.verify as verified
	some msg in denies
	contains(msg, "pages of referrers")
}

test_pagination_never_leaves_the_registry if {
	denies := policy.deny with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_foreign_link
		with data.notary.verify as verified
	some msg in denies
	contains(msg, "leaves https://registry.test")
}

test_envelope_not_matching_its_digest_is_denied if {
	denies := policy.deny with input as {"image": image}
		with data.notary.config as fixture_config
		with http.send as mock_tampered
		with data.notary.verify as rejected
	some msg in denies
	contains(msg, "does not match its digest")
}

test_missing_trust_policy_is_denied if {
	denies := policy.deny with input as {"image": image}
		with data.notary.config as {}
		with http.send as mock_registry
		with data.notary.verify as verified
	some msg in denies
	contains(msg, "trustPolicy")
}

test_no_image_is_denied if {
	not policy.allow with input as {}
	count(policy.deny) == 1 with input as {}
}

test_bad_reference_is_denied if {
	denies := policy.deny with input as {"images": ["not-a-reference"]} with data.notary.config as fixture_config
	some msg in denies
	contains(msg, "not a fully qualified reference")
}
