# The Rego of nv2's Gatekeeper ConstraintTemplate (gatekeeper/deploy/template.yaml carries this
# file verbatim; a test checks that they are identical).
#
# Every image of the reviewed object (a Pod, the pod template of a workload, or a CronJob's job
# template) is sent in ONE external_data call to the nv2-verifier provider, whose value per key is
# the verification report of Contract 1. The policy fails closed: no answer, a system error, a
# per-key error, a missing report or a report that is not verified is a violation naming the
# image and the reason.
#
# Syntax: Rego v0 with the future keywords imported (the legacy `rego:` field of a
# ConstraintTemplate, Gatekeeper 3.11 or later, the first release with external data in beta).
# It uses only `if`, `contains` and `in`, so the same text is also valid Rego v1, which is how
# OPA 1.x compiles it in our tests.
package nv2verifiedimages

import future.keywords.contains
import future.keywords.if
import future.keywords.in

provider := "nv2-verifier"

# Kinds whose pod template sits at spec.template.spec.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController"}

# The container lists of a pod spec that carry images.
container_fields := ["containers", "initContainers", "ephemeralContainers"]

pod_specs contains spec if {
	input.review.kind.kind == "Pod"
	spec := input.review.object.spec
}

pod_specs contains spec if {
	input.review.kind.kind in template_kinds
	spec := input.review.object.spec.template.spec
}

pod_specs contains spec if {
	input.review.kind.kind == "CronJob"
	spec := input.review.object.spec.jobTemplate.spec.template.spec
}

# The namespace under review: Gatekeeper sets review.namespace; an object read from a file may
# only carry it in its metadata.
namespace := input.review.namespace if {
	input.review.namespace != ""
} else := input.review.object.metadata.namespace

exempt_namespace if {
	namespace in object.get(input, ["parameters", "exemptNamespaces"], [])
}

# Glob patterns without delimiters (null; an empty list would mean ".", as OPA documents):
# `*` also matches `/`, `.` and `:`, so `registry.k8s.io/*` exempts every repository of that
# registry, whatever its tag or digest.
exempt_image(image) if {
	some pattern in object.get(input, ["parameters", "exemptImages"], [])
	glob.match(pattern, null, image)
}

images contains image if {
	not exempt_namespace
	some spec in pod_specs
	some field in container_fields
	some container in object.get(spec, field, [])
	image := container.image
	not exempt_image(image)
}

# The key sent for an image. With the constraint parameter `namespacedKeys: true` it is
# `[namespace]image` (Ratify's convention), so that the provider verifies under the namespace's
# own trust policy (`--namespace-policies`); off by default so that a provider shared with other
# templates sees plain image references. An object without a namespace sends the bare image.
key_of(image) := sprintf("[%s]%s", [namespace, image]) if {
	object.get(input, ["parameters", "namespacedKeys"], false) == true
	is_string(namespace)
	namespace != ""
} else := image

# Sorted: the keys (and so the provider's cache entries) are deterministic.
keys := sort([key_of(image) | some image in images])

# The one call for all images; undefined when there is nothing to verify.
answer := external_data({"provider": provider, "keys": keys}) if count(keys) > 0

# Defined whenever external_data answered, whatever its value (even `false`).
answered if {
	_ = answer
}

# The answer is read only when it is an object, and only its lists of pairs: under OPA a
# builtin's type error is undefined, which must never make a violation rule vanish. What is
# skipped leaves an image without its report, which is denied below.
pairs(field) := [entry | list := object.get(answer, field, []); is_array(list); some entry in list; is_array(entry); count(entry) == 2] if {
	is_object(answer)
} else := []

reports := {entry[0]: entry[1] | some entry in pairs("responses")}

key_errors := {entry[0]: entry[1] | some entry in pairs("errors")}

system_error := object.get(answer, "system_error", "") if is_object(answer)

# Failing closed, in order: no answer at all, a malformed answer, a failed call, a per-key
# error, no report, a report that is not verified.
violation contains {"msg": msg} if {
	some image in images
	not answered
	msg := sprintf("image %s: no answer from the %s provider (failing closed)", [image, provider])
}

violation contains {"msg": msg} if {
	some image in images
	answered
	not is_object(answer)
	msg := sprintf("image %s: the %s provider's answer is malformed: %v", [image, provider, answer])
}

violation contains {"msg": msg} if {
	some image in images
	system_error != ""
	msg := sprintf("image %s: the %s provider failed: %v", [image, provider, system_error])
}

violation contains {"msg": msg} if {
	some image in images
	system_error == ""
	status := object.get(answer, "status_code", 200)
	status != 200
	msg := sprintf("image %s: the %s provider answered HTTP %v", [image, provider, status])
}

# Answers are keyed by what was sent: each image is looked up under its own key, so messages
# name the image (never the `[namespace]` prefix) and an answer for a key not sent is ignored.
violation contains {"msg": msg} if {
	some image in images
	message := key_errors[key_of(image)]
	msg := sprintf("image %s: not verified: %v", [image, message])
}

violation contains {"msg": msg} if {
	some image in images
	system_error == ""
	not reports[key_of(image)]
	not key_errors[key_of(image)]
	msg := sprintf("image %s: the %s provider sent no report for it (failing closed)", [image, provider])
}

violation contains {"msg": msg} if {
	some image in images
	report := reports[key_of(image)]
	not verified(report)
	msg := sprintf("image %s: not verified: %s", [image, reason(report)])
}

verified(report) if report.verified == true

# The report's own errors when it has any, else those of its signatures, else a generic reason;
# defined for any value, so that a malformed report still yields its violation.
reason(report) := sprintf("the provider's value is no report: %v", [report]) if {
	not is_object(report)
} else := concat("; ", [sprintf("%v", [e]) | some e in report.errors]) if {
	count(object.get(report, "errors", [])) > 0
} else := concat("; ", failures) if {
	failures := [sprintf("signature %v: %v", [s.digest, s.error]) | some s in object.get(report, "signatures", []); s.error != null]
	count(failures) > 0
} else := "no verified signature"
