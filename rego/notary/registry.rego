# Registry access for the notary policy: reference parsing, authenticated http.send, the
# referrers API with pagination, the referrers tag-schema fallback, and digest-checked fetches.
#
# Configuration (data.notary.config.registries), keyed by registry host[:port]:
#   {"localhost:5000": {"scheme": "http", "username": "u", "password": "p",
#                       "tls_insecure_skip_verify": false}}
# Unlisted registries use https without credentials.
package notary.policy

import rego.v1

signature_artifact_type := "application/vnd.cncf.notary.signature"

manifest_accept := concat(", ", [
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.artifact.manifest.v1+json",
])

# How many pages of referrers are followed; more is a deny, never a silent truncation.
max_referrer_pages := object.get(config, "maxReferrerPages", 8)

# How many signature envelopes are fetched and verified per image.
max_signatures := object.get(config, "maxSignatures", 32)

# The configuration lives outside the bundle's roots (notary/policy, notary/verify), so that a
# bundle activation never erases it; it is read by its own path: reading `data` as a whole would
# make every rule that depends on it depend on itself in OPA's compiler.
default config := {}

config := data.notary.config

reference_pattern := `^([^/]+)/([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`

# parse_reference("registry:5000/repo/name:tag@sha256:…") is
# {"registry", "repository", "tag", "digest", "fqrn"}; undefined when it is not a reference
# with a registry host and a tag or digest.
parse_reference(ref) := parsed if {
	m := regex.find_all_string_submatch_n(reference_pattern, ref, 1)
	count(m) == 1
	parts := m[0]
	parts[3] != ""
	parts[4] == ""
	parsed := {"registry": parts[1], "repository": parts[2], "tag": parts[3], "digest": "", "fqrn": sprintf("%s/%s", [parts[1], parts[2]])}
}

parse_reference(ref) := parsed if {
	m := regex.find_all_string_submatch_n(reference_pattern, ref, 1)
	count(m) == 1
	parts := m[0]
	parts[4] != ""
	parsed := {"registry": parts[1], "repository": parts[2], "tag": parts[3], "digest": parts[4], "fqrn": sprintf("%s/%s", [parts[1], parts[2]])}
}

registry_config(registry) := object.get(object.get(config, "registries", {}), registry, {})

base_url(ref) := sprintf("%s://%s", [object.get(registry_config(ref.registry), "scheme", "https"), ref.registry])

# The request http.send gets: credentials and TLS settings from the registry's config.
registry_request(ref, method, url, accept) := req if {
	rc := registry_config(ref.registry)
	headers := object.union({"Accept": accept}, auth_header(rc))
	req := {
		"method": method,
		"url": url,
		"headers": headers,
		"raise_error": false,
		"timeout": object.get(config, "timeout", "10s"),
		"tls_insecure_skip_verify": object.get(rc, "tls_insecure_skip_verify", false),
	}
}

auth_header(rc) := {"Authorization": sprintf("Basic %s", [base64.encode(sprintf("%s:%s", [rc.username, rc.password]))])} if {
	rc.username
	rc.password
}

auth_header(rc) := {"Authorization": sprintf("Bearer %s", [rc.token])} if {
	rc.token
}

auth_header(rc) := {} if {
	not rc.username
	not rc.token
}

# A response header's first value (http.send lower-cases names; values may be arrays).
header(resp, name) := v if {
	vs := resp.headers[name]
	is_array(vs)
	v := vs[0]
} else := v if {
	v := resp.headers[name]
	is_string(v)
}

manifest_ident(ref) := ref.digest if ref.digest != ""
else := ref.tag

# The subject descriptor of an image: HEAD of its manifest by tag or digest.
resolve(ref) := result if {
	url := sprintf("%s/v2/%s/manifests/%s", [base_url(ref), ref.repository, manifest_ident(ref)])
	resp := http.send(registry_request(ref, "HEAD", url, manifest_accept))
	result := resolved(ref, resp)
}

resolved(ref, resp) := {"error": sprintf("registry unreachable: %s", [object.get(object.get(resp, "error", {}), "message", "no response")])} if {
	resp.status_code == 0
} else := {"error": sprintf("manifest lookup answered HTTP %d", [resp.status_code])} if {
	resp.status_code != 200
} else := {"error": "the registry did not report the manifest digest"} if {
	not header(resp, "docker-content-digest")
} else := {"error": sprintf("the registry answered digest %s for %s", [header(resp, "docker-content-digest"), ref.digest])} if {
	ref.digest != ""
	header(resp, "docker-content-digest") != ref.digest
} else := {"descriptor": {
	"mediaType": split(header(resp, "content-type"), ";")[0],
	"digest": header(resp, "docker-content-digest"),
	"size": to_number(header(resp, "content-length")),
}}

# --- referrers: the API with pagination, else the tag schema ---

referrers_url(ref, digest) := sprintf("%s/v2/%s/referrers/%s?artifactType=%s", [base_url(ref), ref.repository, digest, urlquery.encode(signature_artifact_type)])

fetch_page(ref, url) := {"resp": resp, "next": next_link(ref, resp)} if {
	resp := http.send(registry_request(ref, "GET", url, "application/vnd.oci.image.index.v1+json"))
}

next_link(ref, resp) := url if {
	link := header(resp, "link")
	m := regex.find_all_string_submatch_n(`<([^>]+)>\s*;\s*rel="?next"?`, link, 1)
	url := absolute(ref, m[0][1])
} else := ""

absolute(ref, path) := path if startswith(path, "http")
else := sprintf("%s%s", [base_url(ref), path])

# The page after `prev`, or a finished marker. Rego has no recursion, so pages are unrolled.
# A `next` link to another origin is refused: the registry's credentials go with every request.
fetch_after(ref, prev) := {"done": true, "next": ""} if {
	object.get(prev, "done", false)
} else := {"done": true, "next": ""} if {
	prev.next == ""
} else := {"done": true, "next": "", "error": sprintf("the referrers page link %s leaves %s", [prev.next, base_url(ref)])} if {
	not startswith(prev.next, sprintf("%s/", [base_url(ref)]))
} else := fetch_page(ref, prev.next)

# All signature descriptors of a digest, or an error.
signature_descriptors(ref, digest) := result if {
	p1 := fetch_page(ref, referrers_url(ref, digest))
	result := descriptors_from(ref, digest, p1)
}

descriptors_from(ref, digest, p1) := {"error": sprintf("registry unreachable: %s", [object.get(object.get(p1.resp, "error", {}), "message", "no response")])} if {
	p1.resp.status_code == 0
} else := tag_schema_descriptors(ref, digest) if {
	p1.resp.status_code == 404
} else := {"error": sprintf("referrers API answered HTTP %d", [p1.resp.status_code])} if {
	p1.resp.status_code != 200
} else := paged_descriptors(ref, p1)

paged_descriptors(ref, p1) := result if {
	p2 := fetch_after(ref, p1)
	p3 := fetch_after(ref, p2)
	p4 := fetch_after(ref, p3)
	p5 := fetch_after(ref, p4)
	p6 := fetch_after(ref, p5)
	p7 := fetch_after(ref, p6)
	p8 := fetch_after(ref, p7)
	pages := array.slice([p1, p2, p3, p4, p5, p6, p7, p8], 0, max_referrer_pages)
	last := pages[count(pages) - 1]
	result := pages_result(pages, last)
}

pages_result(pages, last) := {"error": errors[0]} if {
	errors := [p.error | some p in pages; p.error]
	count(errors) > 0
} else := {"error": sprintf("more than %d pages of referrers", [count(pages)])} if {
	not object.get(last, "done", false)
	last.next != ""
} else := {"error": "a page of referrers could not be fetched"} if {
	some p in pages
	not object.get(p, "done", false)
	p.resp.status_code != 200
} else := {"descriptors": [d |
	some p in pages
	not object.get(p, "done", false)
	some d in object.get(p.resp.body, "manifests", [])
	is_signature(d)
]}

# Registries that ignore the artifactType filter still get filtered here.
is_signature(d) if d.artifactType == signature_artifact_type

# The referrers tag schema (distribution-spec v1.1): an index tagged sha256-<hex>.
tag_schema_descriptors(ref, digest) := result if {
	tag := replace(digest, ":", "-")
	url := sprintf("%s/v2/%s/manifests/%s", [base_url(ref), ref.repository, tag])
	resp := http.send(registry_request(ref, "GET", url, "application/vnd.oci.image.index.v1+json"))
	result := tag_schema_result(resp)
}

tag_schema_result(resp) := {"descriptors": []} if {
	resp.status_code == 404
} else := {"error": sprintf("referrers tag schema lookup answered HTTP %d", [resp.status_code])} if {
	resp.status_code != 200
} else := {"descriptors": [d | some d in object.get(resp.body, "manifests", []); is_signature(d)]}

# --- signature envelopes ---

# Fetches a blob or manifest by digest and checks that its bytes hash to the digest.
fetch_verified(ref, kind, digest, accept) := result if {
	url := sprintf("%s/v2/%s/%s/%s", [base_url(ref), ref.repository, kind, digest])
	resp := http.send(registry_request(ref, "GET", url, accept))
	result := verified_body(resp, kind, digest)
}

verified_body(resp, kind, digest) := {"error": sprintf("fetching %s %s answered HTTP %d", [kind, digest, resp.status_code])} if {
	resp.status_code != 200
} else := {"error": sprintf("%s %s does not match its digest", [kind, digest])} if {
	sprintf("sha256:%s", [crypto.sha256(resp.raw_body)]) != digest
} else := {"raw": resp.raw_body}

# The Contract 1 signature entry for one signature manifest descriptor.
signature_entry(ref, d) := entry if {
	m := fetch_verified(ref, "manifests", d.digest, d.mediaType)
	entry := envelope_entry(ref, d, m)
}

envelope_entry(ref, d, m) := {"error": m.error} if {
	m.error
} else := {"error": sprintf("signature manifest %s has no application/jose+json layer", [d.digest])} if {
	not jose_layer(json.unmarshal(m.raw))
} else := entry if {
	layer := jose_layer(json.unmarshal(m.raw))
	blob := fetch_verified(ref, "blobs", layer.digest, "application/jose+json")
	entry := blob_entry(d, layer, blob)
}

jose_layer(manifest) := layers[0] if {
	layers := [l | some l in object.get(manifest, "layers", object.get(manifest, "blobs", [])); l.mediaType == "application/jose+json"]
	count(layers) > 0
}

blob_entry(_, layer, blob) := {"error": blob.error} if {
	blob.error
} else := {"signature": {"mediaType": layer.mediaType, "digest": layer.digest, "envelope": base64.encode(blob.raw)}}
