# The notary admission policy: an image is allowed only when one of its Notary Project signatures,
# found through the registry's referrers API, verifies under the configured trust policy.
#
#   input:  {"image": "registry/repo:tag"} or {"images": [...]}
#   rules:  data.notary.policy.allow (true only when nothing is denied),
#           data.notary.policy.deny (messages naming image and reason),
#           data.notary.policy.results (image -> verification report)
#   data.notary.config: {"trustPolicy": {...}, "trustStores": {"ca:name": ["-----BEGIN…"]},
#                        "registries": {...} (see registry.rego),
#                        "maxReferrerPages": 8, "maxSignatures": 32, "timeout": "10s"}
#                       (optional limits: more referrer pages than allowed is a deny)
#
# The bundle's roots are notary/policy and notary/verify; the configuration sits beside them, so a
# bundle never owns (and OPA never erases) it. Give it to OPA in any of three ways:
#   opa eval -b bundle.tar.gz -d config.json ...   (config.json: {"notary": {"config": {...}}})
#   opa run -s -b bundle.tar.gz, then PUT /v1/data/notary/config with the bare {...}
#   a second bundle whose .manifest has "roots": ["notary/config"] and /notary/config/data.json
#
# Verification itself is the wasm module's entrypoint notary/verify (data.notary.verify), called
# with the Contract 1 request as its input. Every failure — registry errors, no signature, an
# undefined result — is a deny: the policy fails closed.
package notary.policy

import rego.v1

images contains img if {
	img := input.image
	is_string(img)
}

images contains img if {
	some img in input.images
	is_string(img)
}

results[img] := verify_image(img) if some img in images

deny contains "no image to verify: set input.image or input.images" if count(images) == 0

deny contains msg if {
	some img in images
	not results[img]
	msg := sprintf("%s: verification produced no result", [img])
}

deny contains msg if {
	some img in images
	r := results[img]
	r.verified != true
	msg := sprintf("%s: %s", [img, reason(r)])
}

reason(r) := concat("; ", r.errors) if {
	count(object.get(r, "errors", [])) > 0
} else := "not verified"

# The verification report of one image; every failure is a report with verified: false.
verify_image(img) := {"verified": false, "errors": [sprintf("%q is not a fully qualified reference (registry/repository:tag or @sha256:…)", [img])]} if {
	not parse_reference(img)
} else := {"verified": false, "errors": ["data.notary.config.trustPolicy is not configured"]} if {
	not config.trustPolicy
} else := with_subject(ref, resolve(ref)) if {
	ref := parse_reference(img)
}

with_subject(ref, subject) := {"verified": false, "errors": [subject.error]} if {
	subject.error
} else := with_signatures(ref, subject.descriptor, signature_descriptors(ref, subject.descriptor.digest))

with_signatures(ref, subject, found) := {"verified": false, "errors": [found.error]} if {
	found.error
} else := {"verified": false, "errors": ["no signature found"]} if {
	count(found.descriptors) == 0
} else := evaluate(ref, subject, found.descriptors)

# Fetches the envelopes, builds the Contract 1 request and asks the verifier.
evaluate(ref, subject, descriptors) := report if {
	entries := [signature_entry(ref, d) | some d in array.slice(descriptors, 0, max_signatures)]
	request := {
		"reference": sprintf("%s@%s", [ref.fqrn, subject.digest]),
		"subject": subject,
		"signatures": [e.signature | some e in entries; e.signature],
		"trustPolicy": config.trustPolicy,
		"trustStores": object.get(config, "trustStores", {}),
		"time": time.format(time.now_ns()),
	}
	verdict := data.notary.verify with input as request
	report := with_fetch_errors(verdict, [e.error | some e in entries; e.error])
}

# Signatures that could not be fetched are reported beside the verifier's own errors.
with_fetch_errors(report, fetch_errors) := report if {
	count(fetch_errors) == 0
} else := object.union(report, {"errors": array.concat(object.get(report, "errors", []), fetch_errors)})

# Defined after the rules it reads: regorus mis-evaluates it under `with` otherwise.
default allow := false

allow if {
	count(images) > 0
	count(deny) == 0
}
